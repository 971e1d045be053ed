// localFetch against a real HTTP server on the loopback address: *.localhost names reach 127.0.0.1 with the URL's
// host as the Host header (what the Worker routes tenants by); other names go to the fallback fetch.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalFetch, localFetch, loopbackAddress } from '../src/node.ts';

let server: http.Server;
let port = 0;
const seen: { host: string | undefined; method: string | undefined; url: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({
        host: request.headers.host,
        method: request.method,
        url: request.url,
        body: Buffer.concat(chunks).toString(),
      });
      if (request.url === '/empty') {
        response.writeHead(204, { 'x-request-id': 'r-204' }).end();
        return;
      }
      response.setHeader('set-cookie', ['a=1', 'b=2']);
      response.writeHead(201, 'Created', { 'content-type': 'application/json' });
      response.end(JSON.stringify({ host: request.headers.host }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  port = address.port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('localFetch', () => {
  it('connects to 127.0.0.1 for *.localhost and sends the tenant host, the method, the path and the body', async () => {
    const response = await localFetch(`http://acme.localhost:${port}/api/v1/x?q=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Created');
    expect(await response.json()).toEqual({ host: `acme.localhost:${port}` });
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(seen.at(-1)).toEqual({
      host: `acme.localhost:${port}`,
      method: 'POST',
      url: '/api/v1/x?q=1',
      body: '{"a":1}',
    });
  });

  it('answers a 204 and a HEAD without a body', async () => {
    const empty = await localFetch(new Request(`http://localhost:${port}/empty`, { method: 'DELETE' }));
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(empty.headers.get('x-request-id')).toBe('r-204');
    const head = await localFetch(`http://globex.localhost:${port}/`, { method: 'HEAD' });
    expect(head.status).toBe(201);
    expect(await head.text()).toBe('');
  });

  it('hands other hosts to the fallback, and maps more names when asked', async () => {
    const asked: string[] = [];
    const fetch = createLocalFetch({
      address: (hostname) => (hostname === 'tickets.acme.test' ? '127.0.0.1' : loopbackAddress(hostname)),
      fallback: (request) => {
        asked.push(request.url);
        return Promise.resolve(new Response('elsewhere'));
      },
    });
    expect(await (await fetch('https://api.example.com/x')).text()).toBe('elsewhere');
    expect(asked).toEqual(['https://api.example.com/x']);
    expect(await (await fetch(`http://tickets.acme.test:${port}/`)).json()).toEqual({
      host: `tickets.acme.test:${port}`,
    });
    expect(loopbackAddress('ACME.LOCALHOST.')).toBe('127.0.0.1');
    expect(loopbackAddress('localhost.example.com')).toBeUndefined();
  });
});
