import { exportJWK, generateKeyPair } from 'jose';

/** A fresh JWT_SIGNING_KEYS value (one ES256 key) for local runs and tests. Production keys are Worker secrets. */
export async function generateSigningKeysSecret(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return JSON.stringify([{ ...jwk, kid: `local-${crypto.randomUUID().slice(0, 8)}` }]);
}
