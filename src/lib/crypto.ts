/**
 * Encryption at rest of short secrets (an organization's Stripe keys): AES-256-GCM under DATA_ENCRYPTION_KEY with
 * WebCrypto. Each value gets a random 12-byte IV and is stored as `v1.<iv base64url>.<ciphertext base64url>` (the
 * ciphertext ends with GCM's 16-byte tag). The organization id and the purpose of the secret are the additional
 * authenticated data: a ciphertext copied into another organization's row, or into another column, fails to
 * decrypt. Plaintexts never leave the service that needs them: they are not logged, returned or put in audit rows.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a secret is for; part of the additional authenticated data. */
export type SecretPurpose =
  | 'stripe_secret_key'
  | 'stripe_webhook_secret'
  | 'webhook_secret'
  | 'totp_secret'
  | 'mfa_challenge'
  | 'sso_client_secret'
  | 'sso_handoff';

export interface SecretContext {
  organizationId: string;
  purpose: SecretPurpose;
}

/** A stored secret that cannot be decrypted (tampered, another organization's, another key, malformed). */
export class DecryptionError extends Error {
  constructor() {
    super('the stored secret cannot be decrypted');
    this.name = 'DecryptionError';
  }
}

export function base64urlEncode(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new DecryptionError();
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (char) => char.charCodeAt(0));
}

// Imported keys per key text, for the life of the isolate (importKey is not free).
const keys = new Map<string, Promise<CryptoKey>>();

function importKey(keyText: string): Promise<CryptoKey> {
  let key = keys.get(keyText);
  if (key === undefined) {
    const raw = base64urlDecode(keyText);
    if (raw.length !== 32) throw new Error('DATA_ENCRYPTION_KEY must be 32 bytes');
    key = crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    keys.set(keyText, key);
  }
  return key;
}

function additionalData(context: SecretContext): Uint8Array {
  return encoder.encode(`eventra:${context.purpose}:${context.organizationId.toLowerCase()}`);
}

/** Encrypts `plaintext` for `context` under `keyText` (DATA_ENCRYPTION_KEY): `v1.<iv>.<ciphertext>`. */
export async function encryptSecret(keyText: string, context: SecretContext, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: additionalData(context) },
    await importKey(keyText),
    encoder.encode(plaintext),
  );
  return `${VERSION}.${base64urlEncode(iv)}.${base64urlEncode(new Uint8Array(ciphertext))}`;
}

/** Decrypts a value from `encryptSecret` with the same key and context; DecryptionError otherwise. */
export async function decryptSecret(keyText: string, context: SecretContext, stored: string): Promise<string> {
  const [version, ivText, ciphertextText, ...rest] = stored.split('.');
  if (version !== VERSION || ivText === undefined || ciphertextText === undefined || rest.length > 0) {
    throw new DecryptionError();
  }
  const iv = base64urlDecode(ivText);
  if (iv.length !== IV_BYTES) throw new DecryptionError();
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: additionalData(context) },
      await importKey(keyText),
      base64urlDecode(ciphertextText),
    );
    return decoder.decode(plaintext);
  } catch {
    throw new DecryptionError();
  }
}

/**
 * What a signature is for: each purpose has its own key (HKDF info `eventra <purpose> v1`), so one kind of signature
 * never passes as another.
 */
export type SignaturePurpose =
  'export_download' | 'api-key checksum' | 'domain_verification' | 'sso_domain_verification';

// HMAC keys per (key text, purpose), for the life of the isolate (deriving them is not free).
const signingKeys = new Map<string, Promise<CryptoKey>>();

function signingKey(keyText: string, purpose: SignaturePurpose): Promise<CryptoKey> {
  const cacheKey = `${purpose}:${keyText}`;
  let key = signingKeys.get(cacheKey);
  if (key === undefined) {
    key = crypto.subtle
      .importKey('raw', base64urlDecode(keyText), 'HKDF', false, ['deriveKey'])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(`eventra ${purpose} v1`) },
          base,
          { name: 'HMAC', hash: 'SHA-256', length: 256 },
          false,
          ['sign', 'verify'],
        ),
      );
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/**
 * HMAC-SHA-256 of `message` under a key derived from `keyText` (DATA_ENCRYPTION_KEY) for `purpose`: signed links (the
 * export download) and the API keys' checksum. No I/O.
 */
export async function messageMac(keyText: string, purpose: SignaturePurpose, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', await signingKey(keyText, purpose), encoder.encode(message)));
}

/** `messageMac` as base64url. */
export async function signMessage(keyText: string, purpose: SignaturePurpose, message: string): Promise<string> {
  return base64urlEncode(await messageMac(keyText, purpose, message));
}

/**
 * Whether `signature` is `signMessage`'s for the same key, purpose and message (compared in constant time), written
 * exactly as signMessage writes it: a 32-byte MAC's last base64url character carries 2 unused bits, so four texts
 * decode to the same MAC, and only the canonical one (unused bits zero, no padding) is accepted.
 */
export async function verifySignature(
  keyText: string,
  purpose: SignaturePurpose,
  message: string,
  signature: string,
): Promise<boolean> {
  let mac: Uint8Array<ArrayBuffer>;
  try {
    mac = base64urlDecode(signature);
  } catch {
    return false;
  }
  if (base64urlEncode(mac) !== signature) return false;
  return crypto.subtle.verify('HMAC', await signingKey(keyText, purpose), mac, encoder.encode(message));
}
