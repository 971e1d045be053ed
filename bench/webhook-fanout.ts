// Webhook fan-out, measured end to end on the local stack: commit (the API answered) -> delivery (a local receiver
// got the signed POST). Needs `npm run dev` running (PORT, default 8787; the acme tenant). Prints a summary and
// writes it to bench/results/webhook-fanout.json. Usage: npm run bench:webhooks -- [--events 300] [--concurrency 20]
// (Node resolves no *.localhost names, so requests go to 127.0.0.1 with the tenant's Host header.)
import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { closeConnections, call as stackCall } from './stack.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '20' },
    port: { type: 'string', default: process.env.PORT ?? '8787' },
  },
});
const total = Number(values.events);
const concurrency = Number(values.concurrency);
const port = Number(values.port);
const host = `acme.localhost:${values.port}`;

const arrivals = new Map<string, number>();
const receiver = http.createServer((req, res) => {
  const id = req.headers['webhook-id'];
  req.resume();
  req.on('end', () => {
    if (typeof id === 'string' && !arrivals.has(id)) arrivals.set(id, performance.now());
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const address = receiver.address();
if (address === null || typeof address === 'string') throw new Error('receiver has no port');

/** One JSON request to the tenant host (bench/stack.ts `call`: node:http with the Host header); throws unless 2xx. */
async function call(method: string, path: string, token: string | null, body?: unknown) {
  const answer = await stackCall({
    port,
    host,
    method,
    path,
    body,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  if (answer.status < 200 || answer.status >= 300) {
    throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body as Record<string, unknown> | null;
}

const login = await call('POST', '/api/v1/auth/login', null, {
  email: 'owner@acme.test',
  password: 'eventra-demo-password',
});
const token = String(login?.accessToken);
const endpoint = await call('POST', '/api/v1/webhooks', token, {
  url: `http://127.0.0.1:${address.port}/hook`,
  description: 'bench: webhook fan-out',
  eventTypes: ['event.updated'],
});
const start = new Date(Date.now() + 60 * 86_400_000);
const event = await call('POST', '/api/v1/events', token, {
  title: `Fan-out bench ${new Date().toISOString()}`,
  timezone: 'Europe/Berlin',
  startsAt: start.toISOString(),
  endsAt: new Date(start.getTime() + 3_600_000).toISOString(),
});

const commits: number[] = [];
const began = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const index = next++;
      await call('PUT', `/api/v1/events/${String(event?.id)}`, token, { description: `update ${index}` });
      commits.push(performance.now());
    }
  }),
);
const committed = performance.now();

const deadline = Date.now() + 120_000;
while (arrivals.size < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
const finished = performance.now();
await call('DELETE', `/api/v1/webhooks/${String(endpoint?.id)}`, token);
await call('DELETE', `/api/v1/events/${String(event?.id)}`, token);
receiver.close();
closeConnections();

const seconds = (finished - began) / 1000;
const result = {
  events: total,
  delivered: arrivals.size,
  concurrency,
  commitSeconds: Number(((committed - began) / 1000).toFixed(2)),
  commitToLastDeliverySeconds: Number(seconds.toFixed(2)),
  deliveredPerSecond: Number((arrivals.size / seconds).toFixed(1)),
  committedPerSecond: Number((commits.length / ((committed - began) / 1000)).toFixed(1)),
};
console.table(result);
await mkdir(new URL('results/', import.meta.url), { recursive: true });
await writeFile(new URL('results/webhook-fanout.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
if (arrivals.size < total) process.exitCode = 1;
