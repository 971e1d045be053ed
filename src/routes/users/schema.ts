import { z } from '@hono/zod-openapi';
import { MAX_CURSOR_LENGTH } from '../../lib/cursor.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { StoredEmail, storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, sortParam } from '../pagination.ts';

export const ROLE_KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** A role key as responses show it (the pattern allows at most 63 characters). */
export const StoredRoleKey = z.string().max(63).regex(ROLE_KEY_PATTERN);

export const MEMBER_STATUSES = ['active', 'invited', 'disabled'] as const;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const EXAMPLE_USER_ID = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';

// The pattern caps the length at 63; maxLength states it for tools that do not read patterns (one error, not two).
const roleKey = () => z.string().regex(ROLE_KEY_PATTERN, 'Must be a role key.').openapi({ maxLength: 63 });

const memberName = () =>
  z.string().trim().min(1).max(200).regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.');

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

export const MemberRoleSchema = z
  .object({
    key: StoredRoleKey.openapi({ description: 'Stable key of the role.', example: 'organizer' }),
    name: storedLine(100).openapi({ description: 'Display name of the role.', example: 'Organizer' }),
  })
  .openapi('MemberRole', { description: "The member's role in this organization." });

export const MemberSchema = z
  .object({
    id: Uuid.openapi({ description: 'The user id (the same in every organization).', example: EXAMPLE_USER_ID }),
    // Not re-validated as an email on the way out: addresses stored by any flow must still be listed.
    email: StoredEmail.openapi({ description: 'Email address, lowercase.', example: 'ada@acme.com' }),
    // Both names come from inputs of at most 200 characters without control characters.
    name: storedLine(200).openapi({
      description:
        'The name this organization uses for the member: the one given when inviting them or by `PUT /users/{id}`, ' +
        "else the account's own name. Changing it here changes no other organization's view, nor the account.",
      example: 'Ada Lovelace',
    }),
    role: MemberRoleSchema,
    status: z.enum(MEMBER_STATUSES).openapi({
      description:
        '`invited`: the invitation is not accepted yet; `active`: may sign in; `disabled`: may not sign in here.',
      example: 'active',
    }),
    emailVerified: z.boolean().openapi({
      description:
        'Whether the email address is verified; for invited members: false until they accept (an account the ' +
        'address may already have elsewhere is not described before then).',
      example: true,
    }),
    lastLoginAt: Timestamp.nullable().openapi({
      description: 'Last sign-in to this organization; null if never, and for invited members: null until they accept.',
      example: '2026-03-01T09:30:00.000Z',
    }),
    createdAt: Timestamp.openapi({
      description: 'When the person joined or was invited to this organization (the membership).',
      example: '2026-01-15T12:00:00.000Z',
    }),
  })
  .openapi('Member', { description: 'A user as a member of this organization. Never carries credentials.' });

export type MemberResponse = z.infer<typeof MemberSchema>;

export const MemberListSchema = cursorPage(MemberSchema, {
  maxItems: MAX_PAGE_SIZE,
  name: 'MemberList',
  items: 'This page of members, oldest membership first.',
  cursorExample: 'WyIyMDI2LTAxLTE1VDEyOjAwOjAwLjEyMzQ1NloiLCI2ZjFjMmIzYS00ZDVlLTRmNjAtOGE3Yi05YzBkMWUyZjNhNGIiXQ',
});

export type MemberListResponse = z.infer<typeof MemberListSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const MemberIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The user id.',
    example: EXAMPLE_USER_ID,
  }),
});

export const MemberListQuerySchema = z
  .object({
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({
        param: { name: 'q', in: 'query' },
        description:
          'Case-insensitive prefix of the email address or of the name shown (`name`: this organization’s name for ' +
          'the member, else the account’s).',
        example: 'ada',
      }),
    role: roleKey()
      .optional()
      .openapi({
        param: { name: 'role', in: 'query' },
        description: 'Only members with this role key.',
        example: 'staff',
      }),
    status: z
      .enum(MEMBER_STATUSES)
      .optional()
      .openapi({
        param: { name: 'status', in: 'query' },
        description: 'Only members with this status.',
        example: 'active',
      }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE_SIZE)
      .default(DEFAULT_PAGE_SIZE)
      .openapi({
        param: { name: 'limit', in: 'query' },
        format: 'int32',
        description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}). Values outside the range answer 400; they are not clamped.`,
        example: 20,
      }),
    cursor: z
      .string()
      .max(MAX_CURSOR_LENGTH)
      .regex(/^[A-Za-z0-9_-]+$/, 'Malformed cursor')
      .optional()
      .openapi({
        param: { name: 'cursor', in: 'query' },
        description: 'The `nextCursor` of the previous page, unchanged (opaque). A malformed cursor answers 400.',
        example: 'WyIyMDI2LTAxLTE1VDEyOjAwOjAwLjEyMzQ1NloiLCI2ZjFjMmIzYS00ZDVlLTRmNjAtOGE3Yi05YzBkMWUyZjNhNGIiXQ',
      }),
    sort: sortParam(
      ['createdAt', '-createdAt'] as const,
      'Order of the members by when they joined (or were invited).',
    ),
  })
  // Only these filters exist: any other query parameter (organizationId, ...) answers 400.
  .strict();

export const MemberCreateSchema = z
  .object({
    email: z.email().max(254).openapi({
      description: 'Email address of the person to invite (stored lowercase).',
      example: 'grace@acme.com',
    }),
    name: memberName().openapi({
      description:
        'The name this organization will use for the member (shown as `name`). For a new account it is also the ' +
        'account’s own name; an existing account keeps its own name, which is never changed or shown to you.',
      example: 'Grace Hopper',
    }),
    role: roleKey().openapi({
      description: 'Key of the role to give (built-in or custom). You must hold every permission of that role.',
      example: 'organizer',
    }),
  })
  .strict()
  .openapi('MemberInvitation', { description: 'Who to invite and with which role. Nothing else is accepted.' });

export const MemberUpdateSchema = z
  .object({
    name: memberName()
      .optional()
      .openapi({
        description:
          'The name this organization uses for the member. Only this organization’s view changes: the account’s own ' +
          'name (`GET /api/v1/auth/me`, other organizations) stays.',
        example: 'Grace B. Hopper',
      }),
    role: roleKey()
      .optional()
      .openapi({ description: 'Key of the new role. Ends the member’s sessions here.', example: 'admin' }),
    status: z.enum(['active', 'disabled']).optional().openapi({
      description: '`disabled` blocks sign-in here and ends the member’s sessions; `active` re-enables.',
      example: 'disabled',
    }),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.role !== undefined || body.status !== undefined, {
    message: 'Give at least one of name, role or status.',
  })
  .openapi('MemberUpdate', { description: 'The fields to change; nothing else is accepted.' });
