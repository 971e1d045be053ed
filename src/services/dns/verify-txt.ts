import type { Bindings } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';

/**
 * DNS TXT verification over DNS over HTTPS (Cloudflare's JSON API: `GET <DOH_URL>?name=...&type=TXT` with
 * `accept: application/dns-json`), for anything that proves control of a DNS name with a TXT record: custom domains
 * (src/services/domains) and email domains (domain capture). Generic: (name, expected token) -> verified or not.
 *
 * - The answer's chain is followed as the resolver returns it: from the queried name through CNAME records (at most
 *   8) to the TXT records of the final name; records of other names are ignored.
 * - A TXT record's character strings are joined (`"abc" "def"` is `abcdef`), as RFC 7208 does for SPF.
 * - NXDOMAIN and an empty answer are "not verified"; SERVFAIL or another failure, a timeout (5 s), an answer over
 *   64 KiB or not JSON is a 502 `dns_provider_error` problem with Retry-After (the caller cannot tell yet).
 * - At most 50 TXT records of at most 4,096 characters are considered; the lowest TTL seen is returned (how soon a
 *   new record would be seen again).
 */
export const DOH_URL = 'https://cloudflare-dns.com/dns-query';
const TIMEOUT_MS = 5_000;
const MAX_BYTES = 64 * 1024;
const MAX_CNAME_HOPS = 8;
const MAX_RECORDS = 50;
const MAX_TXT_LENGTH = 4_096;
const TYPE_CNAME = 5;
const TYPE_TXT = 16;

export interface TxtVerification {
  verified: boolean;
  /** The TXT values found at the name (after CNAMEs), joined, at most MAX_RECORDS. */
  values: string[];
  /** The lowest TTL of the records used, in seconds; null without records. */
  ttl: number | null;
}

/** Where DoH queries go: DOH_URL, overridable in the local environment only (the tests' fake resolver). */
export function dohUrl(bindings: Pick<Bindings, 'ENVIRONMENT' | 'DOH_URL'>): string {
  if (bindings.DOH_URL === undefined) return DOH_URL;
  if (bindings.ENVIRONMENT !== 'local') {
    throw new ApiError('misconfigured', { detail: 'DOH_URL may be set in the local environment only.' });
  }
  return bindings.DOH_URL;
}

interface DohAnswer {
  name: string;
  type: number;
  TTL: number;
  data: string;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function providerError(detail: string, cause?: unknown): ApiError {
  return new ApiError('dns_provider_error', { detail, headers: { 'retry-after': '30' }, cause });
}

/** `"abc" "d\"ef"` -> `abcd"ef`; an unquoted value is taken as it is. */
export function joinTxtData(data: string): string {
  const parts = [...data.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => (match[1] ?? '').replace(/\\(.)/g, '$1'));
  return parts.length === 0 ? data : parts.join('');
}

function parseAnswers(body: unknown): { status: number; answers: DohAnswer[] } {
  if (typeof body !== 'object' || body === null) throw providerError('The DNS resolver answered no JSON object.');
  const { Status: status, Answer: answer } = body as { Status?: unknown; Answer?: unknown };
  if (typeof status !== 'number') throw providerError('The DNS resolver answered without a status.');
  const answers: DohAnswer[] = [];
  if (Array.isArray(answer)) {
    for (const item of answer as unknown[]) {
      if (typeof item !== 'object' || item === null) continue;
      const { name, type, TTL, data } = item as Record<string, unknown>;
      if (typeof name === 'string' && typeof type === 'number' && typeof data === 'string') {
        answers.push({ name: normalize(name), type, TTL: typeof TTL === 'number' ? TTL : 0, data });
      }
    }
  }
  return { status, answers };
}

/** The TXT values at `name`, following the CNAME chain the resolver returned. */
export async function lookupTxt(
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'DOH_URL'>,
  name: string,
): Promise<{ values: string[]; ttl: number | null }> {
  const url = new URL(dohUrl(bindings));
  url.searchParams.set('name', name);
  url.searchParams.set('type', 'TXT');
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/dns-json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw providerError('The DNS resolver did not answer.', error);
  }
  if (!response.ok) throw providerError(`The DNS resolver answered ${response.status}.`);
  const text = await response.text();
  if (text.length > MAX_BYTES) throw providerError('The DNS answer is too large.');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw providerError('The DNS resolver answered no JSON.', error);
  }
  const { status, answers } = parseAnswers(body);
  // 0 NOERROR, 3 NXDOMAIN: an answer. Anything else (SERVFAIL, REFUSED, ...) says nothing about the name.
  if (status === 3) return { values: [], ttl: null };
  if (status !== 0) throw providerError(`The DNS resolver answered status ${status}.`);

  let current = normalize(name);
  let ttl: number | null = null;
  const seen = new Set([current]);
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const alias = answers.find((answer) => answer.type === TYPE_CNAME && answer.name === current);
    if (!alias) break;
    const target = normalize(alias.data);
    if (seen.has(target)) break;
    seen.add(target);
    ttl = ttl === null ? alias.TTL : Math.min(ttl, alias.TTL);
    current = target;
  }
  const values: string[] = [];
  for (const answer of answers) {
    if (answer.type !== TYPE_TXT || answer.name !== current || values.length >= MAX_RECORDS) continue;
    const value = joinTxtData(answer.data);
    if (value.length > MAX_TXT_LENGTH) continue;
    values.push(value);
    ttl = ttl === null ? answer.TTL : Math.min(ttl, answer.TTL);
  }
  return { values, ttl: values.length === 0 ? null : ttl };
}

/** Whether `name` has a TXT record whose value is exactly `expected` (compared without timing differences). */
export async function verifyTxt(
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'DOH_URL'>,
  name: string,
  expected: string,
): Promise<TxtVerification> {
  const { values, ttl } = await lookupTxt(bindings, name);
  const verified = values.some((value) => constantTimeEqual(value.trim(), expected));
  return { verified, values, ttl };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= a.charCodeAt(index) ^ b.charCodeAt(index);
  return difference === 0;
}
