import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import { z } from '@hono/zod-openapi';

export const JWT_ALGORITHM = 'ES256';

const PrivateJwkSchema = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  kid: z.string().min(1).max(100),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
});

export interface SigningKeys {
  /** The first key of JWT_SIGNING_KEYS signs; the others only verify, during a rotation's overlap. */
  signer: { kid: string; key: CryptoKey };
  /** Public halves of every key, for /.well-known/jwks.json. */
  jwks: { keys: JWK[] };
  verifier: JWTVerifyGetKey;
}

// Parsed keys for the life of the isolate, per secret value (importing a key is not free).
let cached: { source: string; keys: Promise<SigningKeys> } | undefined;

/**
 * JWT_SIGNING_KEYS is a JSON array of private P-256 JWKs with distinct `kid`s. To rotate: put a new key first and
 * keep the old one second for at least the access-token lifetime, then drop it.
 */
export function signingKeys(secret: string): Promise<SigningKeys> {
  if (cached?.source !== secret) cached = { source: secret, keys: load(secret) };
  return cached.keys;
}

async function load(secret: string): Promise<SigningKeys> {
  const parsed = z.tuple([PrivateJwkSchema], PrivateJwkSchema).parse(JSON.parse(secret));
  const [first] = parsed;
  const publicKeys: JWK[] = parsed.map(({ kty, crv, kid, x, y }) => ({
    kty,
    crv,
    kid,
    x,
    y,
    alg: JWT_ALGORITHM,
    use: 'sig',
  }));
  // WebCrypto directly: an EC JWK always imports as a CryptoKey (jose's importJWK also admits raw secrets).
  const key = await crypto.subtle.importKey(
    'jwk',
    { ...first, ext: false },
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  return {
    signer: { kid: first.kid, key },
    jwks: { keys: publicKeys },
    verifier: createLocalJWKSet({ keys: publicKeys }),
  };
}
