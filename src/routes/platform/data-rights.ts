import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin, requireRecentAuth } from '../../middleware/auth.ts';
import { eraseAccount, exportAccountData } from '../../services/privacy/platform.ts';
import { PersonalDataExportSchema } from '../auth/data-export.ts';
import { ErasureSchema } from '../auth/erase.ts';
import { int32, Timestamp, Uuid } from '../fields.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { PlatformUserIdParamsSchema } from './schema.ts';

export const AccountDataExportSchema = z
  .object({
    exportedAt: Timestamp,
    account: z.object({
      id: Uuid,
      email: z.string().max(254),
      name: z.string().max(200),
      locale: z.string().max(35),
      timezone: z.string().max(64),
      preferences: z.record(z.string().max(64), z.unknown()),
      emailVerifiedAt: Timestamp.nullable(),
      createdAt: Timestamp,
      updatedAt: Timestamp,
    }),
    organizations: z
      .array(PersonalDataExportSchema)
      .max(10_000)
      .openapi({
        description:
          'Per organization that holds something of the account (a membership, or bookings, tickets or waitlist ' +
          'entries made with its address), what the person’s own export there gives (`GET /api/v1/auth/me/export`).',
      }),
  })
  .openapi('AccountDataExport', { description: 'What the whole platform holds about an account. Never a secret.' });

export const EraseAccountBodySchema = z
  .object({
    reason: z.string().trim().min(3).max(500).openapi({
      description: 'Why (kept in the platform audit log and in each organization’s), e.g. the data-subject request.',
      example: 'DSR #88: erasure requested by the account holder',
    }),
  })
  .strict()
  .openapi('EraseAccountRequest');

export const AccountErasureSchema = ErasureSchema.extend({
  organizations: int32(0).openapi({ description: 'Organizations that held something of the account.' }),
  membershipsRemoved: int32(0),
}).openapi('AccountErasure', { description: 'What the erasure of an account changed, across every organization.' });

export const exportRoute = createRoute({
  method: 'get',
  path: '/api/v1/platform/users/{id}/export',
  operationId: 'exportPlatformUserData',
  tags: ['Platform'],
  summary: 'Export everything the platform holds about an account',
  description:
    'For a data-subject request made to the platform: the account, and for every organization that holds ' +
    'something of it (a membership, or bookings, tickets or waitlist entries made with its address) the same ' +
    'document the person’s own `GET /api/v1/auth/me/export` gives there. Never a secret. Writes ' +
    '`platform.user_data_exported` in the platform audit log and `account.data_exported` (by a platform ' +
    'administrator) in each organization’s. 404 for an unknown account. Platform host and platform administrators ' +
    'only (404 on an organization host, 403 for other callers). Two database round trips and one Redis round trip, ' +
    'plus one database round trip per dedicated database (two where it holds something of the account).',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: PlatformUserIdParamsSchema },
  responses: {
    200: {
      description: 'The data, as a JSON download.',
      content: { 'application/json': { schema: AccountDataExportSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const eraseRoute = createRoute({
  method: 'post',
  path: '/api/v1/platform/users/{id}/erase',
  operationId: 'erasePlatformUser',
  tags: ['Platform'],
  summary: 'Erase an account everywhere',
  description:
    'For a data-subject request made to the platform: in every organization the account belongs to, the same ' +
    'erasure as the person’s own `POST /api/v1/auth/me/erase` there (the membership goes with its sessions, ' +
    'factors and passkeys; bookings, tickets and waitlist entries made with the address lose name, address and ' +
    'answers but keep money and seats; audit entries of what the person did lose address and user agent); then the ' +
    'same for bookings, tickets and waitlist entries in organizations the person was not a member of, and the ' +
    'account itself is deleted (email, name, password hash, second factors, passkeys, sessions, the API keys it ' +
    'created). Issued invoices stay (tax retention). Refused with 409 and nothing erased when the account is the ' +
    'last active owner of an organization (the problem names them in `organizations`) or a platform ' +
    'administrator. Writes `account.data_erased` (by a platform administrator, with the reason) in each ' +
    'organization’s audit log and `platform.user_data_erased` in the platform’s. 404 for an unknown account. ' +
    'Platform host and platform administrators only. Round trips: two database round trips, plus per membership ' +
    'two database and one Redis round trip (its removal, its API keys, its access tokens), plus two per dedicated ' +
    'database (what it holds of the account is read and erased there too).' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin(), requireRecentAuth()] as const,
  request: {
    params: PlatformUserIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: EraseAccountBodySchema,
          example: { reason: 'DSR #88: erasure requested by the account holder' },
        },
      },
    },
  },
  responses: {
    200: { description: 'Erased.', content: { 'application/json': { schema: AccountErasureSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(exportRoute, async (c) => {
    const data = await exportAccountData({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, AccountDataExportSchema, data), 200, {
      'cache-control': 'no-store',
      'content-disposition': `attachment; filename="eventra-account-${data.account.id}-${data.exportedAt.slice(0, 10)}.json"`,
    });
  });
  app.openapi(eraseRoute, async (c) => {
    const erased = await eraseAccount({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, reason: c.req.valid('json').reason },
    });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, AccountErasureSchema, erased), 200);
  });
}
