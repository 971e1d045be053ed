import type { Bindings } from '../../env.ts';
import { decryptSecret, encryptSecret } from '../../lib/crypto.ts';

/**
 * Standard Webhooks 1.0 signing secrets and signatures. A secret is `whsec_` + base64 of 32 random bytes; the HMAC key
 * is those bytes (the base64 after the prefix, decoded). The signature of a message is
 * `v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`; several are space-separated.
 */
export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + base64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The secret encrypted for storage, bound to the organization (both secret columns use the same purpose). */
export function encryptWebhookSecret(
  bindings: Pick<Bindings, 'DATA_ENCRYPTION_KEY'>,
  organizationId: string,
  secret: string,
): Promise<string> {
  return encryptSecret(bindings.DATA_ENCRYPTION_KEY, { organizationId, purpose: 'webhook_secret' }, secret);
}

/** A stored secret, decrypted (DecryptionError when it cannot be). Never log it. */
export function decryptWebhookSecret(
  bindings: Pick<Bindings, 'DATA_ENCRYPTION_KEY'>,
  organizationId: string,
  stored: string,
): Promise<string> {
  return decryptSecret(bindings.DATA_ENCRYPTION_KEY, { organizationId, purpose: 'webhook_secret' }, stored);
}

/** `v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under `secret` (`whsec_...`). */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const raw = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = await crypto.subtle.importKey('raw', fromBase64(raw), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = await crypto.subtle.sign('HMAC', key, encoder.encode(`${id}.${String(timestamp)}.${body}`));
  return `v1,${base64(new Uint8Array(signature))}`;
}

/** The `webhook-signature` header: one signature per secret (the current one first), space-separated. */
export async function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const signatures = await Promise.all(secrets.map((secret) => signWebhook(secret, id, timestamp, body)));
  return signatures.join(' ');
}
