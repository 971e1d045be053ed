import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { register as registerUser } from '../../services/auth/sessions.ts';
import { RegisterBodySchema, SessionSchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/register',
  operationId: 'register',
  tags: ['Authentication'],
  summary: 'Sign up',
  description:
    'Creates an account on this organization host with the `member` role, signs it in and sends a verification ' +
    'link (valid 24 hours). Signing in works before verification; `user.emailVerified` says whether it happened.\n\n' +
    '**What this endpoint reveals about existing addresses.** Sign-up cannot hide that an address is taken, so: an ' +
    'address that is already a member here, and an address of an account elsewhere given with a password that does ' +
    'not match, both answer the same 409 problem (same body, comparable time). An existing account given with its ' +
    'own password joins this organization (201). Each client address may sign up 10 times an hour (429 with ' +
    '`Retry-After` beyond), so the 409 cannot be used to enumerate addresses at scale. Every sign-up also counts ' +
    "against the address's sign-in limit (10 failed password checks per 15 minutes, shared with " +
    '`POST /auth/login`; a successful sign-up does not count), whether or not an account exists: beyond it, 429.\n\n' +
    'Only `email`, `password` and `name` are accepted: any other field (`role`, `organizationId`, `emailVerified`, ' +
    'ids) is a 400. When the rate limiter cannot be reached the answer is 503, never an unlimited sign-up.',
  request: { body: { required: true, content: { 'application/json': { schema: RegisterBodySchema } } } },
  middleware: [tenantOnly(), location('/api/v1/auth/me')] as const,
  responses: {
    201: {
      description: 'Signed up and signed in.',
      content: { 'application/json': { schema: SessionSchema } },
    },
    ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
  },
});

export type RegisterResponse = z.infer<typeof SessionSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const session = await registerUser({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SessionSchema, session), 201);
  });
}
