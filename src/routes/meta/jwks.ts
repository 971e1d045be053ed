import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { signingKeys } from '../../services/auth/keys.ts';
import { responseBody } from '../response.ts';

const coordinate = () =>
  z
    .string()
    .max(43)
    .regex(/^[A-Za-z0-9_-]{43}$/);

/** At most this many keys are published (a rotation needs two). */
const MAX_KEYS = 10;

/** Only the public members of a P-256 key are listed: the schema has no `d`, and parsing strips anything else. */
const PublicJwkSchema = z
  .object({
    kty: z.literal('EC').openapi({ description: 'Key type.', example: 'EC' }),
    crv: z.literal('P-256').openapi({ description: 'Curve.', example: 'P-256' }),
    // JWT_SIGNING_KEYS admits key ids of 1 to 100 characters.
    kid: z
      .string()
      .max(100)
      .openapi({ description: 'Key id, as in the `kid` header of access tokens.', example: '2026-01' }),
    // A P-256 coordinate is 32 bytes: 43 base64url characters (WebCrypto imports nothing else).
    x: coordinate().openapi({
      description: 'Public x coordinate (base64url).',
      example: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    }),
    y: coordinate().openapi({
      description: 'Public y coordinate (base64url).',
      example: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    }),
    alg: z.literal('ES256').openapi({ description: 'The only algorithm tokens are signed with.', example: 'ES256' }),
    use: z.literal('sig').openapi({ description: 'Signature keys.', example: 'sig' }),
  })
  .openapi('PublicJwk', { description: 'A public signing key (RFC 7517).' });

export const JwksSchema = z
  .object({
    keys: z
      .array(PublicJwkSchema)
      .min(1)
      .max(MAX_KEYS)
      .openapi({
        description: `The signing key first, then older keys still accepted during a rotation overlap (at most ${MAX_KEYS}).`,
      }),
  })
  .openapi('Jwks', { description: 'A JSON Web Key Set (RFC 7517).' });

export type JwksResponse = z.infer<typeof JwksSchema>;

export const route = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  operationId: 'getJwks',
  tags: ['Meta'],
  summary: 'Public signing keys (JWKS)',
  description:
    'The public keys that verify Eventra access tokens (ES256; match the token header `kid`), so other services can ' +
    'verify them offline. Served on every host, without authentication; cacheable for 5 minutes. During a key ' +
    'rotation the new and the old key are both listed for at least the access-token lifetime.',
  responses: {
    200: { description: 'The key set.', content: { 'application/json': { schema: JwksSchema } } },
    ...errorResponses(404),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { jwks } = await signingKeys(c.var.bindings.JWT_SIGNING_KEYS);
    c.header('cache-control', 'public, max-age=300');
    return c.json(responseBody(c, JwksSchema, jwks), 200);
  });
}
