import { z } from '@hono/zod-openapi';
import { int32, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams } from '../pagination.ts';

export const MAX_PLATFORM_USER_PAGE_SIZE = 100;
const EXAMPLE_CURSOR = 'YWRhQGV4YW1wbGUuY29t';
const EXAMPLE_ID = '4f3c2b1a-0d9e-4c8b-a7f6-e5d4c3b2a190';

export const PlatformUserListQuerySchema = z
  .object({
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({
        param: { name: 'q', in: 'query' },
        description: 'A prefix of the email address or of the name (case-insensitive).',
        example: 'ada',
      }),
    ...pageParams({ defaultSize: 20, maxSize: MAX_PLATFORM_USER_PAGE_SIZE, cursorExample: EXAMPLE_CURSOR }),
  })
  .strict();

const summaryShape = {
  id: Uuid.openapi({ example: EXAMPLE_ID }),
  email: z.string().max(254).openapi({ example: 'ada@example.com' }),
  name: z.string().max(200).openapi({ example: 'Ada Lovelace' }),
  emailVerified: z.boolean(),
  isPlatformAdmin: z.boolean(),
  organizations: int32(0).openapi({ description: 'Memberships (any status).' }),
  lastLoginAt: Timestamp.nullable().openapi({ description: 'The latest sign-in in any organization.' }),
  createdAt: Timestamp,
};

export const PlatformUserSummarySchema = z.object(summaryShape).openapi('PlatformUserSummary');

export const PlatformUserPageSchema = cursorPage(PlatformUserSummarySchema, {
  name: 'PlatformUserPage',
  items: 'Accounts, by email address.',
  cursorExample: EXAMPLE_CURSOR,
  maxItems: MAX_PLATFORM_USER_PAGE_SIZE,
});

export const PlatformUserSchema = z
  .object({
    ...summaryShape,
    locale: z.string().max(35),
    timezone: z.string().max(64),
    memberships: z
      .array(
        z.object({
          organization: z.object({
            id: Uuid,
            slug: z.string().max(63),
            name: z.string().max(200),
            status: z.string().max(16),
          }),
          role: z.string().max(64),
          status: z.string().max(16),
          lastLoginAt: Timestamp.nullable(),
          activeSessions: int32(0),
          joinedAt: Timestamp,
        }),
      )
      .max(10_000),
  })
  .openapi('PlatformUser', { description: 'An account and its memberships. Never a secret.' });

export const PlatformUserIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The account id.', example: EXAMPLE_ID }),
});

export const RevokeSessionsBodySchema = z
  .object({
    reason: z.string().trim().min(3).max(500).openapi({
      description: 'Why (kept in the platform audit log), e.g. the support ticket.',
      example: 'Support #4711: lost laptop',
    }),
  })
  .strict()
  .openapi('RevokeUserSessionsRequest');

export const RevokedSessionsSchema = z
  .object({
    sessionsRevoked: int32(0).openapi({ description: 'Sessions (refresh families) ended.' }),
    tenants: int32(0).openapi({ description: 'Organizations (and the platform) whose access tokens were ended.' }),
  })
  .openapi('RevokedUserSessions');
