import { z } from '@hono/zod-openapi';
import { errorResponses } from '../../errors/problem.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { IMPERSONATION_MODES } from '../../services/auth/tokens.ts';
import { DEFAULT_IMPERSONATION_MINUTES, MAX_IMPERSONATION_MINUTES } from '../../services/impersonations/index.ts';
import { int32, storedLine, StoredEmail, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams } from '../pagination.ts';

export const MIN_REASON = 10;
export const MAX_REASON = 500;
const MAX_PAGE_SIZE = 100;
const EXAMPLE_ID = '7c1e9a52-3b4d-4f6a-9e8d-1a2b3c4d5e6f';
const EXAMPLE_USER_ID = '6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87';
const EXAMPLE_ORGANIZATION_ID = '3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a';
const CURSOR_EXAMPLE = 'WyIyMDI2LTExLTAxVDEwOjAwOjAwLjAwMDAwMFoiLCI3YzFlOWE1Mi0zYjRkLTRmNmEtOWU4ZC0xYTJiM2M0ZDVlNmYiXQ';

const ModeSchema = z.enum(IMPERSONATION_MODES).openapi({
  description:
    '`read_only`: only GET and HEAD requests work with the token; anything else answers 403 ' +
    '`impersonation_read_only`. The only mode offered (docs/API.md, "Impersonation").',
  example: 'read_only',
});

export const ImpersonationSchema = z
  .object({
    id: Uuid.openapi({ description: "The impersonation's id (its token's session id).", example: EXAMPLE_ID }),
    organizationId: Uuid.openapi({ description: 'The organization.', example: EXAMPLE_ORGANIZATION_ID }),
    user: z
      .object({
        id: Uuid.openapi({ example: EXAMPLE_USER_ID }),
        email: StoredEmail.nullable().openapi({ example: 'ada@example.com' }),
        name: storedLine(200).nullable().openapi({ example: 'Ada Lovelace' }),
      })
      .openapi({ description: 'The member acted as (email and name null once the account is no longer a member).' }),
    impersonator: z
      .object({
        id: Uuid.nullable().openapi({ example: '1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d' }),
        email: StoredEmail.openapi({ example: 'support@eventra.app' }),
      })
      .openapi({ description: 'The platform administrator, with their address at the start.' }),
    reason: z
      .string()
      .max(MAX_REASON)
      .openapi({ description: 'Why, as given at the start.', example: 'Support #4711: checkout fails' }),
    mode: ModeSchema,
    status: z.enum(['active', 'ended', 'expired']).openapi({
      description: '`active` until `expiresAt`, then `expired`; `ended` when ended early.',
      example: 'active',
    }),
    createdAt: Timestamp.openapi({ description: 'Started.', example: '2026-11-01T10:00:00.000Z' }),
    expiresAt: Timestamp.openapi({ description: 'Ends by itself.', example: '2026-11-01T10:15:00.000Z' }),
    endedAt: Timestamp.nullable().openapi({ description: 'Ended early; null otherwise.', example: null }),
  })
  .openapi('Impersonation', { description: "A platform administrator's impersonation of a member, for support." });

export const StartImpersonationBodySchema = z
  .object({
    organizationId: Uuid.openapi({ description: 'The organization.', example: EXAMPLE_ORGANIZATION_ID }),
    userId: Uuid.openapi({ description: 'The member to act as (active).', example: EXAMPLE_USER_ID }),
    reason: z
      .string()
      .trim()
      .min(MIN_REASON)
      .max(MAX_REASON)
      .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
      .openapi({
        description:
          `Why, ${MIN_REASON} to ${MAX_REASON} characters (e.g. the support ticket): shown to the organization and ` +
          'in the member’s email, kept in both audit logs.',
        example: 'Support #4711: checkout fails',
      }),
    durationMinutes: z
      .number()
      .int()
      .min(1)
      .max(MAX_IMPERSONATION_MINUTES)
      .default(DEFAULT_IMPERSONATION_MINUTES)
      .openapi({
        format: 'int32',
        description: `How long, 1 to ${MAX_IMPERSONATION_MINUTES} minutes (default ${DEFAULT_IMPERSONATION_MINUTES}).`,
        example: 15,
      }),
    mode: ModeSchema.default('read_only'),
  })
  .strict()
  .openapi('StartImpersonationRequest');

export const StartedImpersonationSchema = z
  .object({
    impersonation: ImpersonationSchema,
    accessToken: z
      .string()
      .max(4096)
      .openapi({
        description:
          "The impersonation's access token, valid on the organization's host only, until `expiresAt`. Never " +
          'refreshed: there is no refresh token.',
        example: 'eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln',
      }),
    tokenType: z.literal('Bearer').openapi({ example: 'Bearer' }),
    expiresIn: int32(0).openapi({ description: 'Seconds until the token expires.', example: 900 }),
  })
  .openapi('StartedImpersonation');

export const ImpersonationIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The impersonation id.', example: EXAMPLE_ID }),
});

export const ImpersonationListQuerySchema = z
  .object({ ...pageParams({ defaultSize: 20, maxSize: MAX_PAGE_SIZE, cursorExample: CURSOR_EXAMPLE }) })
  .strict();

export const ImpersonationListSchema = cursorPage(ImpersonationSchema, {
  name: 'ImpersonationList',
  items: 'Impersonations, newest first.',
  cursorExample: CURSOR_EXAMPLE,
  maxItems: MAX_PAGE_SIZE,
});

/** The answers of both ways to end an impersonation (platform host, organization host). */
export const END_IMPERSONATION_RESPONSES = {
  204: { description: 'The impersonation has ended.' },
  ...errorResponses(400, 401, 403, 404, 429, 503),
};
