import { z } from '@hono/zod-openapi';
import { ALL_PERMISSIONS } from '../../services/auth/permissions.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';
import { PermissionSchema } from '../roles/schema.ts';

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
const MAX_NAME = 100;
export const EXAMPLE_API_KEY_ID = '0f3a2b1c-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const EXAMPLE_KEY = 'evk_live_0f3a2b1c4d5e4f608a7b9c0d1e2f3a4b_Zk3pQ8vX2mN7rT1yW5bH9cJ4dL6gS0aEuV3xK2nR8tY';
const CURSOR_EXAMPLE = 'WyIyMDI2LTExLTAxVDEwOjAwOjAwLjAwMDAwMFoiLCIwZjNhMmIxYy00ZDVlLTRmNjAtOGE3Yi05YzBkMWUyZjNhNGIiXQ';

const EnvironmentSchema = z.enum(['live', 'test']).openapi({
  description:
    "`live`: the organization's real business. `test`: the same data, but refused with 403 `live_key_required` by " +
    'live-only operations (refunds, manual payment confirmation, booking cancellation, payment settings, webhook ' +
    'tests and redeliveries, invitations): for building and testing an integration without moving money or ' +
    'reaching anyone outside.',
  example: 'live',
});

const keyName = () =>
  z
    .string()
    .trim()
    .min(1)
    .max(MAX_NAME)
    .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
    .openapi({ description: `What the key is for, 1 to ${MAX_NAME} characters.`, example: 'CRM sync' });

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

const apiKeyFields = {
  id: Uuid.openapi({ description: 'Key id (also inside the key).', example: EXAMPLE_API_KEY_ID }),
  name: storedLine(MAX_NAME).openapi({ description: 'What the key is for.', example: 'CRM sync' }),
  environment: EnvironmentSchema,
  prefix: z
    .string()
    .max(41)
    .regex(/^evk_(live|test)_[0-9a-f]{32}$/)
    .openapi({
      description: 'The start of the key (its environment and id): with `lastFour`, enough to recognise it.',
      example: 'evk_live_0f3a2b1c4d5e4f608a7b9c0d1e2f3a4b',
    }),
  lastFour: z.string().length(4).openapi({ description: 'The last four characters of the key.', example: 'R8tY' }),
  permissions: z
    .array(PermissionSchema)
    .max(ALL_PERMISSIONS.length)
    .openapi({ description: 'What the key may do.', example: ['events:read', 'bookings:read'] }),
  status: z.enum(['active', 'expired', 'revoked']).openapi({ description: 'Whether it works.', example: 'active' }),
  createdBy: Uuid.openapi({
    description: 'The member who created it (the key acts on their behalf, within its permissions).',
    example: '6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87',
  }),
  createdAt: Timestamp.openapi({ description: 'Created.', example: '2026-11-01T10:00:00.000Z' }),
  expiresAt: Timestamp.nullable().openapi({ description: 'When it stops working; null: never.', example: null }),
  lastUsedAt: Timestamp.nullable().openapi({
    description: 'Last use (recorded at most about once a minute); null: never used.',
    example: '2026-11-02T08:30:00.000Z',
  }),
  lastUsedIp: z.string().max(45).nullable().openapi({
    description: 'The client address of that use.',
    example: '203.0.113.7',
  }),
  revokedAt: Timestamp.nullable().openapi({ description: 'When it was revoked; null: not revoked.', example: null }),
};

export const EXAMPLE_API_KEY = {
  id: EXAMPLE_API_KEY_ID,
  name: 'CRM sync',
  environment: 'live',
  prefix: 'evk_live_0f3a2b1c4d5e4f608a7b9c0d1e2f3a4b',
  lastFour: 'R8tY',
  permissions: ['events:read', 'bookings:read'],
  status: 'active',
  createdBy: '6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87',
  createdAt: '2026-11-01T10:00:00.000Z',
  expiresAt: null,
  lastUsedAt: '2026-11-02T08:30:00.000Z',
  lastUsedIp: '203.0.113.7',
  revokedAt: null,
} as const;

export const ApiKeySchema = z
  .object(apiKeyFields)
  .openapi('ApiKey', { description: 'An API key, without its secret.', example: EXAMPLE_API_KEY });

export const NewApiKeySchema = z
  .object({
    ...apiKeyFields,
    key: z
      .string()
      .max(85)
      .regex(/^evk_(live|test)_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/)
      .openapi({
        description: 'The key. Shown only in this answer (only its hash is stored): keep it now.',
        example: EXAMPLE_KEY,
      }),
  })
  .openapi('NewApiKey', {
    description: 'A new API key, with the key itself (shown once).',
    example: { ...EXAMPLE_API_KEY, lastUsedAt: null, lastUsedIp: null, key: EXAMPLE_KEY },
  });

export const ApiKeyListSchema = cursorPage(ApiKeySchema, {
  name: 'ApiKeyList',
  items: 'The keys on this page.',
  cursorExample: CURSOR_EXAMPLE,
  maxItems: MAX_PAGE_SIZE,
});

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const ApiKeyIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The key id (a UUID; anything else answers 400).',
    example: EXAMPLE_API_KEY_ID,
  }),
});

export const ApiKeyListQuerySchema = z
  .object({
    status: z
      .enum(['active', 'expired', 'revoked'])
      .optional()
      .openapi({ param: { name: 'status', in: 'query' }, description: 'Only keys in this state.', example: 'active' }),
    ...pageParams({ defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE, cursorExample: CURSOR_EXAMPLE }),
    sort: sortParam(['-createdAt', 'createdAt'] as const, 'Order of the keys by creation.'),
  })
  .strict();

export const ApiKeyCreateSchema = z
  .object({
    name: keyName(),
    environment: EnvironmentSchema.default('live'),
    permissions: z
      .array(PermissionSchema)
      .min(1)
      .max(ALL_PERMISSIONS.length)
      .openapi({
        description: 'What the key may do: each one a permission the caller holds (else 403). Duplicates are merged.',
        example: ['events:read', 'bookings:read'],
      }),
    expiresAt: Timestamp.optional().openapi({
      description:
        'When the key stops working (in the future, else 400); absent: never. A key created with an expiring key ' +
        'must expire no later than it.',
      example: '2027-06-01T00:00:00Z',
    }),
  })
  .strict()
  .openapi('ApiKeyCreate', {
    description: 'A new API key. Nothing else is accepted.',
    example: { name: 'CRM sync', environment: 'live', permissions: ['events:read', 'bookings:read'] },
  });

export const ApiKeyUpdateSchema = z
  .object({ name: keyName() })
  .strict()
  .openapi('ApiKeyUpdate', {
    description: 'A new name (permissions, environment and expiry are fixed: create a new key instead).',
    example: { name: 'CRM sync (production)' },
  });
