import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { eraseOwnData } from '../../services/privacy/erase.ts';
import { int32 } from '../fields.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const EraseBodySchema = z
  .object({
    confirm: z.string().max(64).openapi({
      description: "This organization's slug, typed to confirm (anything else answers 400 and erases nothing).",
      example: 'acme',
    }),
  })
  .strict()
  .openapi('EraseOwnDataRequest');

export const ErasureSchema = z
  .object({
    bookings: int32(0).openapi({ description: 'Bookings made with your address, now without your name and address.' }),
    tickets: int32(0).openapi({ description: 'Tickets in your name, now without it.' }),
    waitlistEntries: int32(0),
    auditEntries: int32(0).openapi({ description: 'Audit entries of what you did, now without address and agent.' }),
  })
  .openapi('Erasure', { description: 'What was erased.' });

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/me/erase',
  operationId: 'eraseOwnData',
  tags: ['Authentication'],
  summary: 'Leave this organization and erase your data here',
  description:
    'The signed-in person leaves this organization and erases what it holds about them, in one transaction: the ' +
    'bookings made with their email address lose the buyer’s name, address and answers (their money, seats and ' +
    'tickets stay: the organization’s records); tickets in their name and their waitlist entries likewise (a waiting ' +
    'entry is left); the audit entries of what they did lose the address and user agent (what, when and who stay). ' +
    'The membership goes with their sessions, second factors and passkeys here; their access tokens end at once and ' +
    'their API keys are revoked. Kept: issued invoices and credit notes (tax retention) and the account itself, one ' +
    'identity across organizations (other organizations are not touched). `confirm` must be the organization’s slug ' +
    '(400 otherwise). The last active owner cannot leave (409: make someone else an owner first). A person’s own: ' +
    'API keys are refused (403). Writes `account.data_erased` (without address or agent) and `membership.deleted`. ' +
    'Three database round trips and two Redis round trips beside the authentication’s. Organization hosts only.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: EraseBodySchema } } } },
  responses: {
    200: { description: 'Erased; this session has ended.', content: { 'application/json': { schema: ErasureSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const erased = await eraseOwnData({ ctx: serviceContext(c), input: c.req.valid('json') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, ErasureSchema, erased), 200);
  });
}
