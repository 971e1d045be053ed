import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { ApiError, type FieldError } from '../../errors/api-error.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requirePlatformAdmin, requireRecentAuth } from '../../middleware/auth.ts';
import { updateOrganizationAsPlatform, updateOwnOrganization } from '../../services/organizations/update.ts';
import { byHost } from './host.ts';
import {
  OrganizationIdParamsSchema,
  OrganizationSchema,
  OrganizationUpdateSchema,
  presentOrganization,
  type OrganizationUpdateRequest,
} from './schema.ts';

const TENANT_FIELDS = ['name', 'branding', 'settings'] as const;
const PLATFORM_FIELDS = ['status', 'plan'] as const;

export const route = createRoute({
  method: 'put',
  path: '/api/v1/organizations/{id}',
  operationId: 'updateOrganization',
  tags: ['Organizations'],
  summary: 'Update an organization',
  description:
    'On an organization host (needs `organization:manage`): change `name`, `branding` and `settings` of this ' +
    "organization. Only its own id exists there: another organization's id answers 404 and changes nothing. " +
    '`branding` and `settings` merge key by key (null removes a key; `allowedOrigins` replaces the list). CORS ' +
    'origins apply at once.\n\n' +
    'On the platform host (platform administrators): change `status` and `plan`. Suspending takes the ' +
    'organization offline: its hosts answer 404 at once on the instance that served the change, and everywhere ' +
    'within 30 seconds (the tenant cache lifetime).\n\n' +
    'A field of the other host, or any unknown field (`slug`, `id`, ...), answers 400. Every change writes an ' +
    '`organization.updated` audit row. Changing `settings.requireMfa` needs a recent sign-in (step-up).',
  security: [{ bearerAuth: [] }],
  middleware: [byHost({ platform: requirePlatformAdmin(), tenant: requirePermission('organization:manage') })] as const,
  request: {
    params: OrganizationIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: OrganizationUpdateSchema,
          examples: {
            organization: {
              summary: 'Branding and settings (organization host)',
              value: {
                branding: { primaryColor: '#4f46e5', logoUrl: 'https://cdn.acme.com/logo.png' },
                settings: { timezone: 'Europe/Paris', allowedOrigins: ['https://tickets.acme.com'] },
              },
            },
            platform: { summary: 'Suspend (platform host)', value: { status: 'suspended' } },
          },
        },
      },
    },
  },
  responses: {
    200: { description: 'The updated organization.', content: { 'application/json': { schema: OrganizationSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

/** Fields that exist in the schema but belong to the other kind of host are refused like unknown ones. */
function refuseFields(body: OrganizationUpdateRequest, fields: readonly (keyof OrganizationUpdateRequest)[]): void {
  const errors: FieldError[] = fields
    .filter((field) => body[field] !== undefined)
    .map((field) => ({ pointer: `/body/${field}`, message: 'This field cannot be changed on this host.' }));
  if (errors.length > 0) {
    throw new ApiError('validation_failed', { detail: 'The request does not match the schema.', errors });
  }
}

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    if (ctx.tenant) {
      refuseFields(body, PLATFORM_FIELDS);
      const { name, branding, settings } = body;
      // The MFA policy is a security setting: changing it needs a recent sign-in, like the MFA changes themselves.
      if (settings?.requireMfa !== undefined) await requireRecentAuth()(c, () => Promise.resolve());
      const row = await updateOwnOrganization({ ctx, input: { id, patch: { name, branding, settings } } });
      return c.json(presentOrganization(row), 200);
    }
    refuseFields(body, TENANT_FIELDS);
    const { status, plan } = body;
    const row = await updateOrganizationAsPlatform({ ctx, input: { id, patch: { status, plan } } });
    return c.json(presentOrganization(row), 200);
  });
}
