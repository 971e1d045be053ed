import { exportJWK, generateKeyPair } from 'jose';

/** A fresh JWT_SIGNING_KEYS value (one ES256 key) for local runs and tests. Production keys are Worker secrets. */
export async function generateSigningKeysSecret(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return JSON.stringify([{ ...jwk, kid: `local-${crypto.randomUUID().slice(0, 8)}` }]);
}

/** A fresh DATA_ENCRYPTION_KEY (32 random bytes, base64url) for local runs and tests. Production's is a Worker secret. */
export function generateDataEncryptionKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}
