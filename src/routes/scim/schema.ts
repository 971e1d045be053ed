import { z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import {
  SCIM_ERROR_SCHEMA,
  SCIM_GROUP_SCHEMA,
  SCIM_LIST_SCHEMA,
  SCIM_MAX_RESULTS,
  SCIM_MEDIA_TYPE,
  SCIM_USER_SCHEMA,
} from '../../services/scim/resources.ts';
import { int32, Timestamp, Uuid } from '../fields.ts';

export const EXAMPLE_SCIM_USER_ID = '0f6b1c2d-3e4f-4a5b-8c7d-9e0f1a2b3c4d';
export const EXAMPLE_SCIM_GROUP_ID = '7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d';

/**
 * The guards of every SCIM route: the `scim:provision` permission, the plan's `sso` feature. (Their refusals, like
 * every error on /scim/v2/, are SCIM errors: src/middleware/scim-errors.ts.)
 */
export function scimAccess(): MiddlewareHandler<AppEnv>[] {
  return [requirePermission('scim:provision'), requireFeature('sso')];
}

/** What every SCIM operation shares in its route definition: the tag, the bearer key, the guards. */
export function scimOperation() {
  return { tags: ['SCIM'], security: [{ bearerAuth: [] }], middleware: scimAccess() };
}

/** The end of every SCIM operation's description. */
export const SCIM_ACCESS =
  ' Needs an API key (or token) with `scim:provision` and the plan feature `sso`; errors are SCIM errors ' +
  '(application/scim+json).';

/** A SCIM answer: the resource as JSON with SCIM's media type. */
export function scimJson(c: Context<AppEnv>, body: unknown, status: 200 | 201 = 200): Response {
  return c.body(JSON.stringify(body), status, { 'content-type': SCIM_MEDIA_TYPE });
}

export const ScimErrorSchema = z
  .object({
    schemas: z.array(z.literal(SCIM_ERROR_SCHEMA)).max(1),
    status: z.string().max(3).openapi({ description: 'The HTTP status, as a string.', example: '409' }),
    scimType: z
      .enum(['invalidFilter', 'invalidSyntax', 'invalidPath', 'invalidValue', 'mutability', 'uniqueness'])
      .optional()
      .openapi({ description: 'RFC 7644 3.12 detail error type.', example: 'uniqueness' }),
    detail: z.string().max(2000).openapi({ description: 'What went wrong.', example: 'Already a member.' }),
  })
  .openapi('ScimError', { description: 'A SCIM error (RFC 7644 3.12).' });

/** The SCIM error responses of a route, with the API's error codes behind each status. */
export function scimErrorResponses<const S extends number>(...statuses: S[]) {
  const descriptions: Record<number, string> = {
    400: 'Invalid request (`scimType` says which kind).',
    401: 'No or an invalid API key.',
    403: 'The key lacks `scim:provision` or the permissions of the member or role, or the plan lacks `sso`.',
    404: 'No such user or group in this organization.',
    409: 'A member with this email or externalId exists (`uniqueness`), or the change conflicts (the last owner).',
    413: 'The body is too large.',
    415: 'The body is not JSON.',
    429: 'Rate limited (Retry-After).',
    503: 'Redis is unavailable; retry.',
  };
  const responses = {} as Record<
    S,
    { description: string; content: Record<string, { schema: typeof ScimErrorSchema }> }
  >;
  for (const status of statuses) {
    responses[status] = {
      description: descriptions[status] ?? 'Refused.',
      content: { [SCIM_MEDIA_TYPE]: { schema: ScimErrorSchema } },
    };
  }
  return responses;
}

const text = (max: number) => z.string().max(max);

const NameSchema = z
  .object({
    formatted: text(200).optional(),
    givenName: text(100).optional(),
    familyName: text(100).optional(),
  })
  .loose()
  .openapi({ description: 'The person’s name; the given and family names become the display name.' });

const EmailSchema = z
  .object({
    value: text(320).openapi({ description: 'An address.', example: 'ada@acme.com' }),
    type: text(50).optional(),
    primary: z.boolean().optional(),
  })
  .loose();

export const ScimUserInputSchema = z
  .object({
    schemas: z.array(text(200)).max(10).optional(),
    userName: text(320)
      .min(1)
      .openapi({ description: 'The email address the member signs in with.', example: 'ada@acme.com' }),
    externalId: text(256).nullable().optional().openapi({
      description: "The IdP's own id for the person (shown back; unique in the organization).",
      example: '00u1a2b3c4',
    }),
    displayName: text(200).optional().openapi({ description: 'The name shown.', example: 'Ada Lovelace' }),
    name: NameSchema.optional(),
    emails: z.array(EmailSchema).max(10).optional(),
    active: z
      .union([z.boolean(), z.string().max(5)])
      .optional()
      .openapi({
        description: 'false: the member is disabled (sessions end). "True"/"False" accepted.',
        example: true,
      }),
  })
  .loose()
  .openapi('ScimUserInput', {
    example: {
      schemas: [SCIM_USER_SCHEMA],
      userName: 'ada@acme.com',
      externalId: '00u1a2b3c4',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: 'ada@acme.com', type: 'work', primary: true }],
      active: true,
    },
    description:
      'A SCIM User as an IdP sends it (core schema). Other attributes (title, phone numbers, the enterprise ' +
      'extension) are accepted and ignored.',
  });

export const ScimUserSchema = z
  .object({
    schemas: z.array(z.literal(SCIM_USER_SCHEMA)).max(1),
    id: Uuid.openapi({ description: 'The member’s user id.', example: EXAMPLE_SCIM_USER_ID }),
    externalId: text(256).optional().openapi({ description: "The IdP's id.", example: '00u1a2b3c4' }),
    userName: text(320).openapi({ description: 'The email address.', example: 'ada@acme.com' }),
    name: z.object({ formatted: text(200) }),
    displayName: text(200).openapi({ description: 'The name this organization shows.', example: 'Ada Lovelace' }),
    emails: z.array(z.object({ value: text(320), type: z.literal('work'), primary: z.literal(true) })).max(1),
    active: z.boolean().openapi({
      description: 'false when disabled (a provisioned member who has not signed in yet is active).',
      example: true,
    }),
    groups: z
      .array(z.object({ value: Uuid, display: text(63) }))
      .max(1)
      .openapi({ description: 'The member’s role, as its Group.' }),
    meta: z.object({
      resourceType: z.literal('User'),
      created: Timestamp,
      lastModified: Timestamp,
      location: text(2048),
    }),
  })
  .openapi('ScimUser', { description: 'A member of the organization as a SCIM User.' });

export const ScimGroupSchema = z
  .object({
    schemas: z.array(z.literal(SCIM_GROUP_SCHEMA)).max(1),
    id: Uuid.openapi({ description: 'The role id.', example: EXAMPLE_SCIM_GROUP_ID }),
    displayName: text(63).openapi({ description: 'The role key.', example: 'organizer' }),
    members: z
      .array(z.object({ value: Uuid, display: text(320) }))
      .max(100_000)
      .optional()
      .openapi({ description: 'The members with this role (GET /scim/v2/Groups/{id} only).' }),
    meta: z.object({
      resourceType: z.literal('Group'),
      created: Timestamp,
      lastModified: Timestamp,
      location: text(2048),
    }),
  })
  .openapi('ScimGroup', { description: 'A role of the organization as a SCIM Group.' });

function listSchema<S extends z.ZodType>(name: string, resource: S) {
  return z
    .object({
      schemas: z.array(z.literal(SCIM_LIST_SCHEMA)).max(1),
      totalResults: int32(0, 2_147_483_647).openapi({ description: 'All matches.', example: 1 }),
      startIndex: int32(1, 2_147_483_647).openapi({ description: 'The first one’s index (1-based).', example: 1 }),
      itemsPerPage: int32(0, SCIM_MAX_RESULTS).openapi({ description: 'How many are here.', example: 1 }),
      Resources: z.array(resource).max(SCIM_MAX_RESULTS),
    })
    .openapi(name);
}

export const ScimUserListSchema = listSchema('ScimUserList', ScimUserSchema);
export const ScimGroupListSchema = listSchema('ScimGroupList', ScimGroupSchema);

export const ScimListQuerySchema = z.object({
  filter: z.string().max(1000).optional().openapi({
    description: 'One comparison: `userName eq "ada@acme.com"` (see docs).',
    example: 'userName eq "ada@acme.com"',
  }),
  startIndex: z.coerce
    .number()
    .int()
    .min(1)
    .max(2_147_483_647)
    .default(1)
    .openapi({ format: 'int32', description: 'The 1-based index of the first result.', example: 1 }),
  count: z.coerce
    .number()
    .int()
    .min(0)
    .max(SCIM_MAX_RESULTS)
    .default(SCIM_MAX_RESULTS)
    .openapi({ format: 'int32', description: `How many, at most ${String(SCIM_MAX_RESULTS)}.`, example: 100 }),
});

export const ScimPatchSchema = z
  .object({
    schemas: z.array(text(200)).max(10).optional(),
    Operations: z
      .array(
        z
          .object({
            op: text(20).openapi({ description: '`add`, `replace` or `remove` (any case).', example: 'replace' }),
            path: text(500).optional().openapi({ description: 'The attribute.', example: 'active' }),
            value: z.unknown().optional().openapi({ description: 'The new value.', example: false }),
          })
          .loose(),
      )
      .min(1)
      .max(1000),
  })
  .loose()
  .openapi('ScimPatch', {
    description: 'A SCIM PatchOp (RFC 7644 3.5.2).',
    example: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    },
  });

export const ScimIdParamsSchema = (example: string) =>
  z.object({
    id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The resource id.', example }),
  });

export function scimBody<S extends z.ZodType>(schema: S) {
  return {
    required: true,
    content: { [SCIM_MEDIA_TYPE]: { schema }, 'application/json': { schema } },
  } as const;
}

export function scimContent<S extends z.ZodType>(schema: S) {
  return { [SCIM_MEDIA_TYPE]: { schema } };
}
