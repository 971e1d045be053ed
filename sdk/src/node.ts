/**
 * A fetch for Node that reaches `*.localhost` hosts, where the local API serves organizations
 * (`http://acme.localhost:8787`). Browsers and curl resolve `*.localhost` to the loopback address themselves; Node's
 * fetch asks the system resolver, which usually does not, and it drops a `Host` header set by hand, so the tenant
 * host cannot be chosen that way either.
 *
 * `localFetch` (or `createLocalFetch()`) connects to 127.0.0.1 for `localhost` and `*.localhost` URLs over node:http
 * or node:https and sends the URL's host as the Host header, so the Worker sees the organization's host; every other
 * URL goes to the regular fetch. No dependency beyond Node itself.
 *
 * @example
 * import { createEventra } from '@eventra/sdk';
 * import { localFetch } from '@eventra/sdk/node';
 * const acme = createEventra({ baseUrl: 'http://localhost:8787', organization: 'acme', fetch: localFetch });
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export interface LocalFetchOptions {
  /** The address to connect to for a hostname, or undefined to use `fallback`. Default: 127.0.0.1 for *.localhost. */
  address?: (hostname: string) => string | undefined;
  /** The fetch for every other URL (default: globalThis.fetch). */
  fallback?: (request: Request) => Promise<Response>;
}

/** 127.0.0.1 for `localhost` and `*.localhost` (RFC 6761: always the loopback), else undefined. */
export function loopbackAddress(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') ? '127.0.0.1' : undefined;
}

// Responses to these never have a body (the Response constructor refuses one).
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function createLocalFetch(
  options: LocalFetchOptions = {},
): (input: Request | string | URL, init?: RequestInit) => Promise<Response> {
  const addressOf = options.address ?? loopbackAddress;
  const fallback = options.fallback ?? ((request: Request) => globalThis.fetch(request));
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const address = addressOf(url.hostname);
    if (address === undefined) return fallback(request);
    request.signal.throwIfAborted();
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    headers.host = url.host;
    // The body is handed over as it arrives: ask for it uncompressed, as nothing here decodes it.
    headers['accept-encoding'] = 'identity';
    if (body !== undefined) headers['content-length'] = String(body.byteLength);
    const secure = url.protocol === 'https:';
    return new Promise<Response>((resolve, reject) => {
      const outgoing = (secure ? https : http).request(
        {
          host: address,
          port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
          method: request.method,
          path: `${url.pathname}${url.search}`,
          headers,
          signal: request.signal,
          // TLS checks the certificate against the URL's name, not the address connected to.
          ...(secure ? { servername: url.hostname } : {}),
        },
        (incoming) => {
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < incoming.rawHeaders.length; i += 2) {
            responseHeaders.append(incoming.rawHeaders[i] ?? '', incoming.rawHeaders[i + 1] ?? '');
          }
          const status = incoming.statusCode ?? 502;
          const empty = NULL_BODY_STATUSES.has(status) || request.method === 'HEAD';
          if (empty) incoming.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>), {
              status,
              statusText: incoming.statusMessage ?? '',
              headers: responseHeaders,
            }),
          );
        },
      );
      outgoing.once('error', reject);
      outgoing.end(body);
    });
  };
}

/** `createLocalFetch()` with the defaults: 127.0.0.1 for `*.localhost`, globalThis.fetch for the rest. */
export const localFetch = createLocalFetch();
