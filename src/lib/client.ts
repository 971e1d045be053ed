import type { Context } from 'hono';
import ipaddr from 'ipaddr.js';
import type { AppEnv } from '../env.ts';

/** Where a request comes from, for audit rows, sessions and rate limits. */
export interface ClientInfo {
  /** CF-Connecting-IP, set by Cloudflare's edge; X-Forwarded-For is never trusted for anything. Audit rows keep it. */
  ip: string | null;
  /**
   * The key of every per-address limit (`addressKey`): the IPv4 address, or the /64 network of an IPv6 address.
   * Null when the request carries no address or one that does not parse (only possible locally).
   */
  addressKey: string | null;
  userAgent: string | null;
  /** The server's id of the request. */
  requestId: string;
  /** The caller's `X-Request-Id`, when it sent a well-formed one (null or absent otherwise). */
  correlationId?: string | null;
}

const IPV6_HOST_BYTES = new Array<number>(8).fill(0);

/**
 * The per-address limit key of a client address: an IPv4 address as itself (`203.0.113.7`), an IPv6 address as its
 * /64 (`2001:db8:1:2::/64`), because one host or subscriber line owns a whole /64 and could otherwise take a fresh
 * bucket per request. IPv4-mapped IPv6 (`::ffff:203.0.113.7`) is the IPv4 address; every textual form of one /64
 * (compressed, expanded, upper case, with a zone id) gives one key. Null for anything that does not parse.
 */
export function addressKey(ip: string | null): string | null {
  if (ip === null || !ipaddr.isValid(ip)) return null;
  // ipaddr.js rather than a hand-written parser: IPv6 has many textual forms of one address.
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const network = ipaddr.fromByteArray([...address.toByteArray().slice(0, 8), ...IPV6_HOST_BYTES]);
  return `${network.toString()}/64`;
}

/** The longest address kept: an IPv6 address in its longest textual form (an IPv4-mapped tail) is 45 characters. */
export const MAX_CLIENT_ADDRESS = 45;
/** User agents are kept up to this many characters. */
export const MAX_USER_AGENT = 512;

/**
 * The client of a request: its address (as given and as a limit key), user agent and request id. An address longer
 * than any IP address (only possible without Cloudflare's edge in front) is no address.
 */
export function clientInfo(c: Context<AppEnv>): ClientInfo {
  const header = c.req.header('cf-connecting-ip')?.trim() ?? '';
  const ip = header === '' || header.length > MAX_CLIENT_ADDRESS ? null : header;
  const userAgent = c.req.header('user-agent')?.slice(0, MAX_USER_AGENT) ?? null;
  return {
    ip,
    addressKey: addressKey(ip),
    userAgent,
    requestId: c.var.requestId,
    correlationId: c.var.correlationId,
  };
}
