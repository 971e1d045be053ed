import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOrigin } from '../../services/email/links.ts';
import { signUpOrganization } from '../../services/organizations/signup.ts';
import { platformOnly } from './host.ts';
import { presentOrganization, SignupRequestSchema, SignupResponseSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/organizations',
  operationId: 'createOrganization',
  tags: ['Organizations'],
  summary: 'Sign up an organization',
  description:
    'Self-serve sign-up, on the platform host only (404 on an organization host). Creates the organization with ' +
    'its built-in roles and its owner in one transaction, and sends the owner a verification email (valid 24 h) ' +
    'when the address is not verified yet. The organization is then served at `{slug}.{ROOT_DOMAIN}`, where the ' +
    'owner signs in.\n\n' +
    '- Plans: `starter` (default) and `pro` are self-serve; `enterprise` is refused with 400 (contracted, set by a ' +
    'platform administrator).\n' +
    '- Reserved slugs (www, api, admin, support, billing, ...), taken slugs, and an owner email that already has ' +
    "an account given without that account's password all answer the same 409.\n" +
    "- An owner email that already has an account joins as owner when the body carries that account's password " +
    '(the `owner.name` is then ignored).\n' +
    "- Rate limited per client IP and per owner email (5 per hour each), and against the owner address's " +
    'sign-in limit (10 failed password checks per 15 minutes, shared with `POST /auth/login`); 429 with ' +
    '`Retry-After`.',
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: SignupRequestSchema,
          example: {
            name: 'Acme Events',
            slug: 'acme',
            plan: 'starter',
            owner: { email: 'jane@acme.com', password: 'long and unusual passphrase', name: 'Jane Doe' },
          },
        },
      },
    },
  },
  middleware: [platformOnly()] as const,
  responses: {
    201: {
      description: 'The organization and its owner.',
      headers: {
        Location: {
          description: 'The new organization on its own host (the request’s scheme and port).',
          required: true,
          schema: { type: 'string', format: 'uri', maxLength: 2048 },
        },
      },
      content: { 'application/json': { schema: SignupResponseSchema } },
    },
    ...errorResponses(400, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const result = await signUpOrganization({ ctx, input: c.req.valid('json') });
    const body = responseBody(c, SignupResponseSchema, {
      organization: presentOrganization(result.organization),
      owner: result.owner,
    });
    // The new organization lives on its own host: the request's scheme and port, the organization's host name.
    const location = new URL('/api/v1/organization', tenantOrigin(ctx, result.organization)).toString();
    return c.json(body, 201, { location });
  });
}
