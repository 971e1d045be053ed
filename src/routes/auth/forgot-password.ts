import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { forgotPassword } from '../../services/auth/account.ts';
import { AcceptedSchema, ForgotPasswordBodySchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const FORGOT_PASSWORD_ANSWER = {
  status: 'accepted',
  message: 'If this address belongs to a member, a link to reset the password is on its way.',
} as const;

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/forgot-password',
  operationId: 'forgotPassword',
  tags: ['Authentication'],
  summary: 'Ask for a password-reset link',
  description:
    'Always answers 202 with the same body, whether or not the address belongs to a member here, after the same ' +
    'work; the link (single use, valid 1 hour) is emailed only to active members, after the response. Limited per ' +
    'client address (10 an hour) and per address asked about (5 an hour).',
  request: { body: { required: true, content: { 'application/json': { schema: ForgotPasswordBodySchema } } } },
  middleware: [tenantOnly()] as const,
  responses: {
    202: { description: 'Accepted.', content: { 'application/json': { schema: AcceptedSchema } } },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await forgotPassword({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, AcceptedSchema, FORGOT_PASSWORD_ANSWER), 202);
  });
}
