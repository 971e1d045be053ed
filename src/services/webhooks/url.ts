import type { Bindings } from '../../env.ts';

/**
 * Which URLs the platform calls for its customers (server-side request forgery protection): webhook endpoints,
 * checked when an endpoint is created or changed (400) and again right before every delivery attempt (a refused URL
 * is a failed attempt, and no request is made), and an SSO connection's OIDC issuer and SAML metadata URL, checked
 * when the connection is created (src/services/sso/connections.ts).
 *
 * Refused: anything but https, credentials in the URL, a port other than 443, IP literals in private, loopback,
 * link-local, CGNAT, multicast, unspecified, documentation, benchmarking, reserved and cloud-metadata ranges (IPv4
 * and IPv6, IPv4-mapped, NAT64 and 6to4 forms checked by their embedded IPv4 address; IPv4 in decimal, octal, hex and
 * shortened forms normalised first), `localhost` and `*.localhost`, `*.internal` (metadata.google.internal),
 * `*.local`, `*.localdomain`, `*.home.arpa` and single-label host names.
 *
 * In the `local` environment only, loopback (`localhost`, `127.0.0.1`, `[::1]`) is allowed over http or https on any
 * port, so a developer (and the test suite) can receive webhooks on their machine.
 *
 * A DNS name that resolves to a private address cannot be checked from a Worker (it has no resolver API before
 * `fetch`); Cloudflare's egress does not route to private networks, so such a request fails like any unreachable host.
 */
export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export const MAX_WEBHOOK_URL_LENGTH = 2048;

const LOCAL_LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const BLOCKED_SUFFIXES = ['localhost', 'internal', 'local', 'localdomain', 'home.arpa'];

type Cidr4 = readonly [base: string, prefix: number, label: string];

const BLOCKED_IPV4: readonly Cidr4[] = [
  ['0.0.0.0', 8, 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a shared (CGNAT) address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'an IETF protocol assignment address'],
  ['192.0.2.0', 24, 'a documentation address'],
  ['192.88.99.0', 24, 'a 6to4 relay address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved or broadcast address'],
  ['168.63.129.16', 32, 'a cloud metadata address'],
];

function dotted(text: string): number {
  return text.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

const BLOCKED_IPV4_RANGES = BLOCKED_IPV4.map(([base, prefix, label]) => {
  const size = 2 ** (32 - prefix);
  const start = dotted(base);
  return { start, end: start + size - 1, label };
});

/** One part of an IPv4 address the way the URL standard (and inet_aton) reads it: decimal, 0-octal or 0x-hex. */
function ipv4Part(part: string): number | null {
  if (/^0[xX][0-9a-fA-F]*$/.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  if (/^0[0-7]+$/.test(part)) return parseInt(part.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(part)) return parseInt(part, 10);
  return null;
}

function endsInNumber(host: string): boolean {
  const labels = host.split('.');
  if (labels.at(-1) === '' && labels.length > 1) labels.pop();
  const last = labels.at(-1) ?? '';
  return /^[0-9]+$/.test(last) || /^0[xX][0-9a-fA-F]*$/.test(last);
}

/** An IPv4 literal in any form the URL standard accepts (`2130706433`, `0x7f.1`, `0177.0.0.1`), as a number. */
export function parseIpv4(host: string): number | null {
  const parts = host.split('.');
  if (parts.at(-1) === '' && parts.length > 1) parts.pop();
  if (parts.length > 4) return null;
  const numbers = parts.map(ipv4Part);
  if (numbers.some((value) => value === null || !Number.isSafeInteger(value))) return null;
  const values = numbers as number[];
  const last = values.pop() ?? 0;
  if (values.some((value) => value > 255)) return null;
  if (last >= 256 ** (4 - values.length)) return null;
  return values.reduce((sum, value, index) => sum + value * 256 ** (3 - index), last);
}

function ipv4Problem(address: number): string | null {
  const range = BLOCKED_IPV4_RANGES.find(({ start, end }) => address >= start && address <= end);
  return range?.label ?? null;
}

/** An IPv6 literal (without brackets) as its eight 16-bit groups; null when malformed. */
export function parseIpv6(text: string): number[] | null {
  if (text.includes('%')) return null;
  let head = text;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const lastPart = text.slice(lastColon + 1);
  if (lastPart.includes('.')) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(lastPart)) return null;
    const octets = lastPart.split('.').map(Number);
    if (octets.some((octet) => octet > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail = [a * 256 + b, c * 256 + d];
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const values = part.split(':').map((group) => (/^[0-9a-fA-F]{1,4}$/.test(group) ? parseInt(group, 16) : NaN));
    return values.some(Number.isNaN) ? null : values;
  };
  const left = groups(halves[0] ?? '');
  if (left === null) return null;
  if (halves.length === 1) {
    const all = [...left, ...tail];
    return all.length === 8 ? all : null;
  }
  const right = groups(halves[1] ?? '');
  if (right === null) return null;
  const missing = 8 - left.length - right.length - tail.length;
  if (missing < 1) return null;
  return [...left, ...Array<number>(missing).fill(0), ...right, ...tail];
}

function embeddedIpv4(high: number, low: number): number {
  return high * 65_536 + low;
}

function ipv6Problem(g: number[]): string | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zerosBefore = (count: number) => g.slice(0, count).every((group) => group === 0);
  // ::ffff:a.b.c.d (IPv4-mapped), ::ffff:0:a.b.c.d (IPv4-translated), 64:ff9b::a.b.c.d (NAT64): the IPv4 decides.
  const mapped = zerosBefore(5) && g5 === 0xffff;
  const translated = zerosBefore(4) && g4 === 0xffff && g5 === 0;
  const nat64 = g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0;
  if (mapped || translated || nat64) {
    const problem = ipv4Problem(embeddedIpv4(g6, g7));
    return problem === null ? null : `${problem} (embedded in IPv6)`;
  }
  if (g.every((group) => group === 0)) return 'an unspecified address';
  if (zerosBefore(7) && g7 === 1) return 'a loopback address';
  if ((g0 & 0xfe00) === 0xfc00) return 'a unique local (private) address';
  if ((g0 & 0xffc0) === 0xfe80) return 'a link-local address';
  if ((g0 & 0xff00) === 0xff00) return 'a multicast address';
  // Everything public is in 2000::/3; the rest is reserved, deprecated (site-local, IPv4-compatible) or special.
  if ((g0 & 0xe000) !== 0x2000) return 'a reserved address';
  if (g0 === 0x2001 && g1 < 0x0200) return 'an IETF special-purpose address (Teredo, benchmarking, ORCHID)';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'a documentation address';
  if (g0 === 0x3fff && g1 < 0x1000) return 'a documentation address';
  if (g0 === 0x2002) {
    const problem = ipv4Problem(embeddedIpv4(g1, g2));
    return problem === null ? null : `${problem} (embedded in a 6to4 address)`;
  }
  return null;
}

function hostProblem(host: string): string | null {
  if (host.startsWith('[') && host.endsWith(']')) {
    const groups = parseIpv6(host.slice(1, -1));
    if (groups === null) return 'The host is not a valid IPv6 address.';
    const problem = ipv6Problem(groups);
    return problem === null ? null : `The host is ${problem}.`;
  }
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (endsInNumber(name)) {
    const address = parseIpv4(name);
    if (address === null) return 'The host is not a valid IPv4 address.';
    const problem = ipv4Problem(address);
    return problem === null ? null : `The host is ${problem}.`;
  }
  if (name === '' || !name.includes('.')) return 'The host must be a fully qualified domain name.';
  const blocked = BLOCKED_SUFFIXES.find((suffix) => name === suffix || name.endsWith(`.${suffix}`));
  if (blocked !== undefined) return `Host names under .${blocked} are not reachable from the platform.`;
  return null;
}

/** Whether the platform may call `raw` as a webhook endpoint in `environment`. */
export function checkWebhookUrl(raw: string, environment: Bindings['ENVIRONMENT']): UrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: 'The URL is longer than 2048 characters.' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'The URL is not a valid absolute URL.' };
  }
  // The stored and called form is the normalised one, which percent-encoding can make longer than the input.
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) {
    return { ok: false, reason: 'The URL is longer than 2048 characters once normalised (percent-encoded).' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'The URL must not contain credentials.' };
  const host = url.hostname.toLowerCase();
  if (environment === 'local' && LOCAL_LOOPBACK_HOSTS.has(host)) {
    // Local development and tests: loopback receivers over http or https, any port.
    if (url.protocol === 'https:' || url.protocol === 'http:') return { ok: true, url };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: 'The URL must use https.' };
  // The URL parser drops the default port, so an explicit :443 is accepted and any other port is not.
  if (url.port !== '') return { ok: false, reason: 'The URL must use the default https port (443).' };
  const problem = hostProblem(host);
  return problem === null ? { ok: true, url } : { ok: false, reason: problem };
}
