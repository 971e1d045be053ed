import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from '../../errors/api-error.ts';
import commonPasswordList from './data/common-passwords.json' with { type: 'json' };

/**
 * Password hashing with scrypt from node:crypto (native in workerd; WebCrypto PBKDF2 is capped at 100k iterations
 * on Workers and Argon2 would need a WASM module). N=2^14, r=8, p=5 is one of OWASP's equivalent scrypt settings:
 * 16 MiB per hash, which leaves headroom inside an isolate's 128 MB for concurrent logins.
 * Format: `scrypt$<N>$<r>$<p>$<salt base64>$<key base64>`; parameters below the policy are rehashed at login.
 */
export const SCRYPT_POLICY = { N: 16_384, r: 8, p: 5, keyLength: 32, saltLength: 16 } as const;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));

function derive(password: string, salt: Uint8Array, params: ScryptParams, keyLength: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      keyLength,
      { ...params, maxmem: 256 * params.N * params.r },
      (error, key) => {
        if (error) reject(error);
        else resolve(key);
      },
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT_POLICY.saltLength);
  const key = await derive(password, salt, SCRYPT_POLICY, SCRYPT_POLICY.keyLength);
  const { N, r, p } = SCRYPT_POLICY;
  return `scrypt$${N}$${r}$${p}$${toBase64(salt)}$${toBase64(key)}`;
}

const parameter = z.coerce
  .number()
  .int()
  .positive()
  .max(2 ** 24);
// Canonical, non-empty base64: atob never throws on it.
const base64 = z
  .string()
  .regex(/^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^[A-Za-z0-9+/]{2}==$|^[A-Za-z0-9+/]{3}=$/);
const StoredHash = z.tuple([z.literal('scrypt'), parameter, parameter, parameter, base64, base64]);

/** A corrupt or foreign stored value reads as "no match", never as an exception. */
function parse(stored: string): { params: ScryptParams; salt: Uint8Array; key: Uint8Array } | undefined {
  const parsed = StoredHash.safeParse(stored.split('$'));
  if (!parsed.success) return undefined;
  const [, N, r, p, salt, key] = parsed.data;
  return { params: { N, r, p }, salt: fromBase64(salt), key: fromBase64(key) };
}

export interface PasswordCheck {
  valid: boolean;
  /** The stored hash uses weaker parameters than the policy: store a fresh hash after a successful login. */
  needsRehash: boolean;
}

export async function verifyPassword(password: string, stored: string): Promise<PasswordCheck> {
  const parsed = parse(stored);
  if (!parsed) return { valid: false, needsRehash: false };
  const candidate = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  const valid = timingSafeEqual(candidate, parsed.key);
  const { N, r, p } = parsed.params;
  const needsRehash = N < SCRYPT_POLICY.N || r < SCRYPT_POLICY.r || p < SCRYPT_POLICY.p;
  return { valid, needsRehash: valid && needsRehash };
}

// A hash of nothing anyone knows, computed once per isolate: unknown users cost the same work as known ones.
let dummyHash: Promise<string> | undefined;

/** Spends the time of one verification without a user, so login answers take comparable time either way. */
export async function verifyAgainstDummy(password: string): Promise<void> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  await verifyPassword(password, await dummyHash);
}

// The common-password list, as a set, built on first use for the life of the isolate.
let commonPasswords: Set<string> | undefined;

/**
 * Length 8..128 (characters, after NFKC), not on the bundled list of common passwords. Over-long input is refused
 * before any hashing, so a 1 MB password costs nothing. Throws a 400 problem naming the field.
 */
export function assertPasswordPolicy(password: string, pointer = '/body/password'): void {
  const fail = (message: string): never => {
    throw new ApiError('validation_failed', { detail: message, errors: [{ pointer, message }] });
  };
  if (password.length > PASSWORD_MAX_LENGTH * 4) fail(`Passwords are at most ${PASSWORD_MAX_LENGTH} characters.`);
  // Code points, not UTF-16 units: an emoji counts as one character.
  const length = Array.from(password.normalize('NFKC')).length;
  if (length < PASSWORD_MIN_LENGTH)
    fail(`Passwords are at least ${PASSWORD_MIN_LENGTH} characters (15 or more is better).`);
  if (length > PASSWORD_MAX_LENGTH) fail(`Passwords are at most ${PASSWORD_MAX_LENGTH} characters.`);
  commonPasswords ??= new Set(commonPasswordList);
  if (commonPasswords.has(password.toLowerCase())) fail('This password is too common; choose another.');
}
