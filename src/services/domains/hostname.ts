import type { FieldError } from '../../errors/api-error.ts';
import { ApiError } from '../../errors/api-error.ts';

/** Top-level names that never reach the public DNS (RFC 6761, RFC 6762, RFC 7686, ICANN's .internal). */
const RESERVED_TLDS: ReadonlySet<string> = new Set([
  'localhost',
  'local',
  'internal',
  'test',
  'invalid',
  'example',
  'arpa',
  'onion',
  'home',
  'lan',
]);
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function invalid(message: string, pointer = '/hostname'): ApiError {
  const errors: FieldError[] = [{ pointer, message }];
  return new ApiError('validation_failed', { detail: message, errors });
}

/**
 * A custom domain's host name as stored: lower-case ASCII (an internationalized name in punycode, as the URL parser
 * makes it), no trailing dot, no port, path or credentials; at least two labels, a top-level name that is not
 * numeric nor reserved; not an IP address; not the platform's own domain nor a name under it. Throws a 400
 * `validation_failed` problem pointing at `/hostname` otherwise.
 */
export function normalizeCustomHostname(input: string, rootDomain: string, pointer = '/hostname'): string {
  const trimmed = input.trim().replace(/\.$/, '');
  if (trimmed.length === 0 || trimmed.length > 253)
    throw invalid('Must be a host name of at most 253 characters.', pointer);
  if (/[/:@?#[\]\\\s%]/.test(trimmed))
    throw invalid('Must be a host name alone: no scheme, port, path or spaces.', pointer);
  let hostname: string;
  try {
    hostname = new URL(`https://${trimmed}/`).hostname;
  } catch {
    throw invalid('Must be a valid host name.', pointer);
  }
  hostname = hostname.toLowerCase();
  if (hostname.length > 253) throw invalid('Must be a host name of at most 253 characters.', pointer);
  const labels = hostname.split('.');
  const tld = labels.at(-1) ?? '';
  if (/^[0-9.]+$/.test(hostname) || /^0x/i.test(tld) || /^[0-9]+$/.test(tld)) {
    throw invalid('Must be a host name, not an IP address.', pointer);
  }
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) {
    throw invalid('Must be a fully qualified host name such as events.example.com.', pointer);
  }
  if (RESERVED_TLDS.has(tld)) throw invalid(`The top-level name .${tld} is not on the public internet.`, pointer);
  const root = rootDomain.toLowerCase();
  if (hostname === root || hostname.endsWith(`.${root}`)) {
    throw invalid(`Names under ${root} are the platform's own: use the organization's subdomain instead.`, pointer);
  }
  return hostname;
}

/** The name of the TXT record that proves ownership to Eventra: `_eventra-challenge.<hostname>`. */
export function challengeName(hostname: string): string {
  return `_eventra-challenge.${hostname}`;
}
