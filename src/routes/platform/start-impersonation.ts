import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin, requireRecentAuth } from '../../middleware/auth.ts';
import { locationUrl } from '../../middleware/location.ts';
import { startImpersonation } from '../../services/impersonations/index.ts';
import { StartedImpersonationSchema, StartImpersonationBodySchema } from '../impersonations/schema.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/platform/impersonations',
  operationId: 'startImpersonation',
  tags: ['Platform'],
  summary: 'Start an impersonation of a member',
  description:
    'Support: act as an active member of an active organization for `durationMinutes` (default 15, at most 60), ' +
    "read-only, with a `reason`. Answers an access token for the organization's host (its own host only: 401 " +
    "elsewhere) with the member's permissions, never refreshed (no refresh token), carrying the RFC 8693 `act` " +
    'claim (the administrator) and `imp` (the impersonation id and mode). With it every request that is not GET or ' +
    "HEAD answers 403 `impersonation_read_only`, and the member's own endpoints (sessions, MFA, passkeys, " +
    'password, data export, re-authentication, step-up operations) 403 `impersonation_forbidden`. Written to the ' +
    "platform's and the organization's audit log (`impersonation.started`, with the reason); the organization lists " +
    'it (`GET /api/v1/impersonations`) and its owner can end it; the member gets an email. 404: no such active ' +
    'member or organization. 403: the member is a platform administrator, or is the caller. Not idempotent on ' +
    'purpose (an `Idempotency-Key` would store the token): each call starts a new impersonation. Platform host and ' +
    'platform administrators only. One database round trip beside the authentication’s.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin(), requireRecentAuth()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: StartImpersonationBodySchema } } },
  },
  responses: {
    201: {
      description: 'The impersonation and its access token.',
      content: { 'application/json': { schema: StartedImpersonationSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const started = await startImpersonation({ ctx: serviceContext(c), input: c.req.valid('json') });
    c.header('cache-control', 'no-store');
    c.header('location', locationUrl(c, `/api/v1/platform/impersonations/${started.impersonation.id}`));
    return c.json(responseBody(c, StartedImpersonationSchema, started), 201);
  });
}
