import { z } from '@hono/zod-openapi';
import { ALL_PERMISSIONS, BUILT_IN_ROLE_KEYS, type Permission } from '../../services/auth/permissions.ts';
import { MAX_CUSTOM_ROLES } from '../../services/roles/create.ts';
import { int32, storedLine, Uuid } from '../fields.ts';
import { ROLE_KEY_PATTERN, StoredRoleKey } from '../users/schema.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';

const EXAMPLE_ROLE_ID = '2b7e1c4d-5a6f-4b70-9c8d-0e1f2a3b4c5d';

export const PermissionSchema = z
  .enum(ALL_PERMISSIONS as [Permission, ...Permission[]])
  .openapi('Permission', { description: 'A permission from the fixed catalogue.', example: 'events:write' });

const roleName = () =>
  z.string().trim().min(1).max(100).regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.');
// Descriptions may be empty, and may span lines.
const MAX_DESCRIPTION = 500;
const roleDescription = () => z.string().trim().max(MAX_DESCRIPTION);
// The pattern caps the length at 63; maxLength states it for tools that do not read patterns (one error, not two).
const roleKey = () =>
  z
    .string()
    .regex(ROLE_KEY_PATTERN, 'Lowercase letters, digits, - and _, starting with a letter or digit; at most 63.')
    .openapi({ maxLength: 63 });
const permissionList = () => z.array(PermissionSchema).max(ALL_PERMISSIONS.length * 2);

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

export const RoleSchema = z
  .object({
    id: Uuid.openapi({ description: 'Role id.', example: EXAMPLE_ROLE_ID }),
    key: StoredRoleKey.openapi({ description: 'Stable key, unique in the organization.', example: 'box-office' }),
    name: storedLine(100).openapi({ description: 'Display name.', example: 'Box office' }),
    description: z
      .string()
      .max(MAX_DESCRIPTION)
      .openapi({ description: 'What the role is for (may span lines).', example: 'Sells and refunds tickets.' }),
    // Stored without duplicates, in catalogue order (see canonicalPermissions).
    permissions: z
      .array(PermissionSchema)
      .max(ALL_PERMISSIONS.length)
      .openapi({
        description: 'The permissions the role grants, in catalogue order.',
        example: ['events:read', 'bookings:read', 'bookings:write'],
      }),
    builtIn: z.boolean().openapi({
      description: 'Built-in roles (owner, admin, organizer, staff, member) exist in every organization and are fixed.',
      example: false,
    }),
    memberCount: int32().openapi({ description: 'Members holding the role.', example: 3 }),
  })
  .openapi('Role');

export type RoleResponse = z.infer<typeof RoleSchema>;

export const RoleListSchema = z
  .object({
    data: z
      .array(RoleSchema)
      .max(BUILT_IN_ROLE_KEYS.length + MAX_CUSTOM_ROLES)
      .openapi({
        description: `Built-in roles first (most powerful first), then custom roles by key (at most ${MAX_CUSTOM_ROLES}).`,
      }),
  })
  .openapi('RoleList');

export type RoleListResponse = z.infer<typeof RoleListSchema>;

export const PermissionCatalogueSchema = z
  .object({
    data: z
      .array(
        z.object({
          key: PermissionSchema,
          description: storedLine(200).openapi({
            description: 'What it allows.',
            example: 'Create, change, publish and cancel events and ticket types',
          }),
        }),
      )
      .max(ALL_PERMISSIONS.length)
      .openapi({ description: 'Every permission a role can grant.' }),
  })
  .openapi('PermissionCatalogue');

export type PermissionCatalogueResponse = z.infer<typeof PermissionCatalogueSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const RoleIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The role id.', example: EXAMPLE_ROLE_ID }),
});

export const RoleCreateSchema = z
  .object({
    key: roleKey().openapi({
      description: 'Stable key, unique in the organization (built-in keys are taken).',
      example: 'box-office',
    }),
    name: roleName().openapi({ description: 'Display name.', example: 'Box office' }),
    description: roleDescription()
      .optional()
      .openapi({ description: 'What the role is for.', example: 'Sells and refunds tickets.' }),
    permissions: permissionList().openapi({
      description: 'Permissions from the catalogue (GET /api/v1/roles/permissions); you must hold each of them.',
      example: ['events:read', 'bookings:read', 'bookings:write'],
    }),
  })
  .strict()
  .openapi('RoleCreate');

export const RoleUpdateSchema = z
  .object({
    name: roleName().optional().openapi({ description: 'New display name.', example: 'Box office team' }),
    description: roleDescription().optional().openapi({ description: 'New description.', example: 'Sells tickets.' }),
    permissions: permissionList()
      .optional()
      .openapi({
        description:
          'The complete new permission list (replaces the old one). Ends the sessions of the role’s members.',
        example: ['events:read', 'bookings:read'],
      }),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.description !== undefined || body.permissions !== undefined, {
    message: 'Give at least one of name, description or permissions.',
  })
  .openapi('RoleUpdate');
