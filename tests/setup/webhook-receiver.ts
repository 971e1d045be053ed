import http from 'node:http';
import { closeServer } from '../../dev/gateways/keep-alive.ts';

/**
 * A local webhook receiver for the Worker tests (workerd cannot listen, so the global setup runs this in Node).
 * Every test uses its own hook name, so files running in parallel never see each other's requests.
 *
 * - `<any method> /hooks/<name>[/...]`: a webhook. Recorded (method, path, lowercased headers, the raw body), then
 *   answered as the hook is configured: the first `failFirst` requests get `failStatus` (default 500), later ones
 *   `status` (default 200) with `body`; `retryAfter` is sent as Retry-After (with any status), `location` as
 *   Location (for redirects); `delayMs` delays the answer.
 * - `PUT /__control/<name>` with a JSON HookBehaviour (`{ failFirst?, failStatus?, status?, body?, retryAfter?,
 *   location?, delayMs? }`): configures a hook (before its first request).
 * - `GET /__requests/<name>`: every request the hook received, oldest first.
 */
export interface WebhookReceiver {
  url: string;
  close(): Promise<void>;
}

export interface HookBehaviour {
  failFirst?: number;
  failStatus?: number;
  status?: number;
  body?: string;
  retryAfter?: string;
  location?: string;
  /** Answer this many milliseconds late (a slow receiver). */
  delayMs?: number;
}

export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  receivedAt: string;
}

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const behaviours = new Map<string, HookBehaviour>();
  const received = new Map<string, ReceivedWebhook[]>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      const method = req.method ?? 'GET';
      const body = Buffer.concat(chunks).toString('utf8');
      const [, area, name] = url.pathname.split('/');
      if (name === undefined || !NAME.test(name)) {
        res.writeHead(404).end();
        return;
      }
      if (area === '__control' && method === 'PUT') {
        try {
          behaviours.set(name, JSON.parse(body) as HookBehaviour);
          res.writeHead(204).end();
        } catch {
          res.writeHead(400).end();
        }
        return;
      }
      if (area === '__requests' && method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received.get(name) ?? []));
        return;
      }
      if (area !== 'hooks') {
        res.writeHead(404).end();
        return;
      }
      const list = received.get(name) ?? [];
      received.set(name, list);
      const behaviour = behaviours.get(name) ?? {};
      const failing = list.length < (behaviour.failFirst ?? 0);
      const status = failing ? (behaviour.failStatus ?? 500) : (behaviour.status ?? 200);
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (behaviour.retryAfter !== undefined) headers['retry-after'] = behaviour.retryAfter;
      if (behaviour.location !== undefined) headers.location = behaviour.location;
      list.push({
        method,
        path: url.pathname,
        headers: Object.fromEntries(
          Object.entries(req.headers).flatMap(([key, value]) =>
            value === undefined ? [] : [[key, Array.isArray(value) ? value.join(', ') : value]],
          ),
        ),
        body,
        status,
        receivedAt: new Date().toISOString(),
      });
      const answer = failing ? `failing on purpose (${String(status)})` : (behaviour.body ?? 'ok');
      setTimeout(() => res.writeHead(status, headers).end(answer), behaviour.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('webhook receiver did not start');
  return {
    url: `http://127.0.0.1:${String(address.port)}`,
    close: () => closeServer(server),
  };
}
