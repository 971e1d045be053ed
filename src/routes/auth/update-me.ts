import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { updateProfile } from '../../services/auth/self-service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { MeSchema, ProfilePatchSchema } from './schema.ts';

export const route = createRoute({
  method: 'patch',
  path: '/api/v1/auth/me',
  operationId: 'updateCurrentUser',
  tags: ['Authentication'],
  summary: 'Edit your profile and preferences',
  description:
    'Changes the signed-in user’s own `name`, `locale` (BCP 47), `timezone` (an IANA name such as `Europe/Paris`; ' +
    'offsets and unknown zones answer 400) and `preferences` (merged key by key; a preference set to null is ' +
    'removed). Absent fields stay; unknown fields answer 400. The account is global: the change shows in every ' +
    'organization it belongs to (the name an organization gives a member, `PUT /api/v1/users/{id}`, stays). Writes ' +
    'a `user.profile_updated` audit row naming the changed fields. Answers the user as `GET /api/v1/auth/me` does. ' +
    'A person’s own: API keys are refused (403). One database round trip and one Redis round trip (the ' +
    'authentication), plus one database round trip per other database (the account’s copies for organizations on ' +
    'dedicated databases take the change). Organization hosts only.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ProfilePatchSchema,
          example: { name: 'Ada King', locale: 'fr-FR', timezone: 'Europe/Paris', preferences: { theme: 'dark' } },
        },
      },
    },
  },
  responses: {
    200: { description: 'The user after the change.', content: { 'application/json': { schema: MeSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export type UpdateMeResponse = z.infer<typeof MeSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(responseBody(c, MeSchema, await updateProfile({ ctx: serviceContext(c), input: c.req.valid('json') })), 200),
  );
}
