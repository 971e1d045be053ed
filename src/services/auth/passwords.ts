import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from '../../errors/api-error.ts';
import { type FeedbackType, ZxcvbnFactory, type ZxcvbnResult } from '@zxcvbn-ts/core';
import { type CommonPasswords, commonPasswords, type PolicyRuntime } from './common-passwords.ts';

/**
 * Password hashing with scrypt from node:crypto (native in workerd; WebCrypto PBKDF2 is capped at 100k iterations
 * on Workers and Argon2 would need a WASM module). N=2^14, r=8, p=5 is one of OWASP's equivalent scrypt settings:
 * 16 MiB per hash, which leaves headroom inside an isolate's 128 MB for concurrent logins.
 * Format: `scrypt$<N>$<r>$<p>$<salt base64>$<key base64>`; parameters below the policy are rehashed at login.
 */
export const SCRYPT_POLICY: ScryptPolicy = { N: 16_384, r: 8, p: 5, keyLength: 32, saltLength: 16 };
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export interface ScryptPolicy extends ScryptParams {
  keyLength: number;
  saltLength: number;
}

/**
 * The deployment's hashing policy: SCRYPT_POLICY, except in the local environment, where LOCAL_PASSWORD_HASH_COST
 * (`N,r,p`, set by the test suite only) lowers the cost so thousands of sign-ins do not each spend scrypt's 16 MiB and
 * ~170 ms of CPU. Outside the local environment the binding is a misconfiguration, refused like the tests' other
 * local-only bindings (CLOUDFLARE_API_BASE, DOH_URL): passwords are never hashed below the policy there. The two
 * bindings it reads are spelled out (not `Pick<Bindings>`): tests/setup/global.ts hashes with it in Node, without the
 * Workers types.
 */
export function scryptPolicy(bindings: {
  ENVIRONMENT: 'local' | 'staging' | 'production';
  LOCAL_PASSWORD_HASH_COST?: string | undefined;
}): ScryptPolicy {
  const cost = bindings.LOCAL_PASSWORD_HASH_COST;
  if (cost === undefined) return SCRYPT_POLICY;
  if (bindings.ENVIRONMENT !== 'local') {
    throw new ApiError('misconfigured', {
      detail: 'LOCAL_PASSWORD_HASH_COST may be set in the local environment only.',
    });
  }
  // The bindings schema admits only `N,r,p` with N a power of two.
  const [N, r, p] = cost.split(',').map(Number) as [number, number, number];
  return { ...SCRYPT_POLICY, N, r, p };
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

export async function hashPassword(password: string, policy: ScryptPolicy = SCRYPT_POLICY): Promise<string> {
  const salt = randomBytes(policy.saltLength);
  const key = await derive(password, salt, policy, policy.keyLength);
  const { N, r, p } = policy;
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

export async function verifyPassword(
  password: string,
  stored: string,
  policy: ScryptPolicy = SCRYPT_POLICY,
): Promise<PasswordCheck> {
  const parsed = parse(stored);
  if (!parsed) return { valid: false, needsRehash: false };
  const candidate = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  const valid = timingSafeEqual(candidate, parsed.key);
  const { N, r, p } = parsed.params;
  const needsRehash = N < policy.N || r < policy.r || p < policy.p;
  return { valid, needsRehash: valid && needsRehash };
}

// A hash of nothing anyone knows per policy, computed once per isolate: unknown users cost the same work as known ones.
const dummyHashes = new Map<string, Promise<string>>();

/** Spends the time of one verification without a user, so login answers take comparable time either way. */
export async function verifyAgainstDummy(password: string, policy: ScryptPolicy): Promise<void> {
  const key = `${policy.N},${policy.r},${policy.p}`;
  let dummy = dummyHashes.get(key);
  if (!dummy) dummyHashes.set(key, (dummy = hashPassword(crypto.randomUUID(), policy)));
  await verifyPassword(password, await dummy, policy);
}

/** The product's name: part of every estimate's user inputs, so "eventra2026!" is as weak as "acme2026!". */
const PRODUCT_NAME = 'eventra';

/**
 * zxcvbn's score (0..4) a password must reach: 3 is "safely unguessable" (at least 10^8 guesses), zxcvbn's own advice
 * for a password that guards an account. 2 would admit "P4$$w0rd1234"; 3 refuses it, and still admits any passphrase
 * of three uncommon words or 9+ random-looking characters (eight random characters estimate at exactly 10^8).
 */
export const PASSWORD_MIN_SCORE = 3;

// zxcvbn reads only this prefix. Guessing a password means guessing its prefix too, so the prefix's estimate is a
// lower bound of the whole's (a refusal of a long password is never wrong, only conservative). Matching is superlinear
// in length; 64 characters with few l33t substitutions keeps one check to a few milliseconds (measured in workerd:
// see docs/API.md), where 128 characters with the defaults cost 50-130 ms of CPU.
const ESTIMATED_PREFIX = 64;
const L33T_MAX_SUBSTITUTIONS = 4;

// English text for zxcvbn's feedback keys (@zxcvbn-ts/language-en is not a dependency; the API speaks English).
const translations = {
  warnings: {
    straightRow: 'Straight rows of keys are easy to guess.',
    keyPattern: 'Short keyboard patterns are easy to guess.',
    simpleRepeat: 'Repeated characters like "aaa" are easy to guess.',
    extendedRepeat: 'Repeated patterns like "abcabcabc" are easy to guess.',
    sequences: 'Sequences like "abc" or "6543" are easy to guess.',
    recentYears: 'Recent years are easy to guess.',
    dates: 'Dates are easy to guess.',
    topTen: 'This is a heavily used password.',
    topHundred: 'This is a frequently used password.',
    common: 'This is a commonly used password.',
    similarToCommon: 'This is similar to a commonly used password.',
    wordByItself: 'Single words are easy to guess.',
    namesByThemselves: 'Single names or surnames are easy to guess.',
    commonNames: 'Common names and surnames are easy to guess.',
    userInputs: 'It contains your email address, your name, or the organization’s or product’s name.',
    pwned: 'This password appears in a data breach.',
  },
  suggestions: {
    l33t: 'Avoid predictable letter substitutions like "@" for "a".',
    reverseWords: 'Avoid reversed spellings of common words.',
    allUppercase: 'Capitalize some, but not all, letters.',
    capitalization: 'Capitalize more than the first letter.',
    dates: 'Avoid dates and years that are associated with you.',
    recentYears: 'Avoid recent years.',
    associatedYears: 'Avoid years that are associated with you.',
    sequences: 'Avoid common character sequences.',
    repeated: 'Avoid repeated words and characters.',
    longerKeyboardPattern: 'Use longer keyboard patterns and change typing direction several times.',
    anotherWord: 'Add more words that are less common.',
    useWords: 'Use multiple words, but avoid common phrases.',
    noNeed: 'You can create strong passwords without using symbols, numbers, or uppercase letters.',
    pwned: 'If you use this password elsewhere, you should change it.',
  },
  timeEstimation: {
    ltSecond: 'less than a second',
    second: '{base} second',
    seconds: '{base} seconds',
    minute: '{base} minute',
    minutes: '{base} minutes',
    hour: '{base} hour',
    hours: '{base} hours',
    day: '{base} day',
    days: '{base} days',
    month: '{base} month',
    months: '{base} months',
    year: '{base} year',
    years: '{base} years',
    centuries: 'centuries',
  },
};

// The estimator, built on the first password check (never at module evaluation: ranking the ~20k-word list takes
// tens of milliseconds) and kept for the life of the isolate. Its only dictionary is our common-password list:
// language-common's dictionaries would add megabytes to the Worker bundle.
let estimator: { factory: ZxcvbnFactory; list: readonly string[] } | undefined;

function estimate(common: CommonPasswords, password: string, userInputs: string[]): ZxcvbnResult {
  if (estimator?.list !== common.list) {
    const factory = new ZxcvbnFactory({
      dictionary: { passwords: [...common.list] },
      translations,
      maxLength: ESTIMATED_PREFIX,
      l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
    });
    estimator = { factory, list: common.list };
  }
  return estimator.factory.check(password, userInputs);
}

/** What a password is checked against besides the lists: the account's own data and where it is used. */
export interface PasswordContext {
  email: string;
  name: string;
  organization: { name: string; slug: string };
}

/** The email, its local part and domain labels, the names whole, joined and word by word, and the product's name. */
function userInputsOf(context: PasswordContext): string[] {
  const inputs = new Set([PRODUCT_NAME]);
  const { email, name, organization } = context;
  for (const text of [email, name, organization.name, organization.slug]) {
    const lower = text.normalize('NFKC').toLowerCase().trim();
    const words = lower.split(/[^\p{L}\p{N}]+/u);
    inputs.add(lower).add(words.join(''));
    for (const word of words) inputs.add(word);
  }
  // Two-letter fragments ("co", "io") would match inside unrelated words.
  return [...inputs].filter((input) => input.length >= 3);
}

/**
 * The password without what zxcvbn matched to user inputs and without any literal occurrence of one (zxcvbn's cheapest
 * decomposition may read "acme-" as random characters): what is left to guess for whoever knows those inputs.
 */
function withoutUserInputs(password: string, result: ZxcvbnResult, userInputs: string[]): string {
  const kept = result.sequence.filter(
    (match) => !(match.pattern === 'dictionary' && match.dictionaryName === 'userInputs'),
  );
  let rest = (kept.map((match) => match.token).join('') + password.slice(ESTIMATED_PREFIX)).toLowerCase();
  for (const input of [...userInputs].sort((a, b) => b.length - a.length)) rest = rest.replaceAll(input, '');
  return rest;
}

const advice = ({ warning, suggestions }: FeedbackType): string => [warning ?? '', ...suggestions].join(' ').trim();

/**
 * Length 8..128 (characters, after NFKC), not only whitespace, not on the list of common passwords, and strong by
 * zxcvbn (score >= PASSWORD_MIN_SCORE) both as a whole and once every part built from the account's email or name,
 * the organization's name or slug, or the product's name is taken out. Over-long input is refused before any hashing
 * or estimate. Throws a 400 problem naming the field, with zxcvbn's warning and suggestions. CPU only, a few ms, once
 * the list is in memory: the first check in an isolate reads it from the static assets (./common-passwords.ts), and
 * answers 503 while it cannot.
 */
export async function assertPasswordPolicy(
  ctx: PolicyRuntime,
  password: string,
  context: PasswordContext,
  pointer = '/body/password',
): Promise<void> {
  const fail = (message: string): never => {
    throw new ApiError('validation_failed', { detail: message, errors: [{ pointer, message }] });
  };
  if (password.length > PASSWORD_MAX_LENGTH * 4) fail(`Passwords are at most ${PASSWORD_MAX_LENGTH} characters.`);
  const normalized = password.normalize('NFKC');
  // Code points, not UTF-16 units: an emoji counts as one character.
  const length = Array.from(normalized).length;
  if (length < PASSWORD_MIN_LENGTH)
    fail(`Passwords are at least ${PASSWORD_MIN_LENGTH} characters (15 or more is better).`);
  if (length > PASSWORD_MAX_LENGTH) fail(`Passwords are at most ${PASSWORD_MAX_LENGTH} characters.`);
  if (normalized.trim() === '') fail('A password cannot be only whitespace.');
  const common = await commonPasswords(ctx);
  if (common.set.has(password.toLowerCase())) fail('This password is too common; choose another.');
  const userInputs = userInputsOf(context);
  const whole = estimate(common, normalized, userInputs);
  if (whole.score < PASSWORD_MIN_SCORE) fail(`This password is too easy to guess. ${advice(whole.feedback)}`);
  // Strength that comes from the user's own data or the names around it is none: an attacker tries those first.
  const rest = withoutUserInputs(normalized, whole, userInputs);
  if (rest !== normalized.toLowerCase() && estimate(common, rest, userInputs).score < PASSWORD_MIN_SCORE)
    fail(
      'This password is built from your email address, your name, or the organization’s or product’s name. ' +
        'Add more words that are less common.',
    );
}
