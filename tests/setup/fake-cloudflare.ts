import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { closeServer } from '../../dev/gateways/keep-alive.ts';

/**
 * A local stand-in for the two Cloudflare services the custom domains use, answering their real request shapes:
 *
 * - Cloudflare for SaaS, under `/client/v4` (the Worker's CLOUDFLARE_API_BASE in tests):
 *   `POST /zones/{zone}/custom_hostnames` `{ hostname, ssl: { method, type } }` creates a pending custom hostname
 *   with `ownership_verification` (`_cf-custom-hostname.<name>`) and `ssl.validation_records` (`_acme-challenge`);
 *   a name the zone has already answers 409 with error code 1406 (`Duplicate custom hostname found.`).
 *   `GET /zones/{zone}/custom_hostnames?hostname=` lists (exact match), `GET .../{id}`, `DELETE .../{id}`. Every
 *   call needs `Authorization: Bearer <token>` (10000 `Authentication error` otherwise) and the configured zone.
 *   Answers in Cloudflare's envelope `{ success, errors, messages, result }`.
 * - DNS over HTTPS (JSON), at `/dns-query?name=&type=TXT` with `accept: application/dns-json` (the Worker's
 *   DOH_URL): answers the records the tests put, NXDOMAIN for a name without any, CNAMEs followed as resolvers
 *   return them (the chain, then the target's records).
 *
 * Test controls (not Cloudflare's): `PUT /__hostnames/{hostname}` `{ status, sslStatus }` changes a hostname's
 * status; `POST /__fail` `{ operation: 'create'|'list'|'delete', status, times }` makes the next calls fail;
 * `PUT /__dns` `{ name, type: 'TXT'|'CNAME', data, ttl }` adds a record, `DELETE /__dns?name=` removes a name's
 * records, `PUT /__dns/status` `{ name, status }` answers a DNS status (2 SERVFAIL) for a name;
 * `GET /__requests` lists the requests received (method, path, query, headers lower-cased, body).
 */
export interface FakeCloudflare {
  url: string;
  apiBase: string;
  dohUrl: string;
  token: string;
  zoneId: string;
  close(): Promise<void>;
}

const TOKEN = 'fake-cloudflare-token-0123456789abcdef';
const ZONE = '023e105f4ecef8ad9ca31a8372d0c353';

interface Hostname {
  id: string;
  hostname: string;
  status: string;
  sslStatus: string;
  ownershipValue: string;
  validationValue: string;
  createdAt: string;
}

interface DnsRecord {
  name: string;
  type: 'TXT' | 'CNAME';
  data: string;
  ttl: number;
}

type Operation = 'create' | 'list' | 'delete';

function view(entry: Hostname) {
  return {
    id: entry.id,
    hostname: entry.hostname,
    status: entry.status,
    ssl: {
      id: `ssl-${entry.id}`,
      type: 'dv',
      method: 'txt',
      status: entry.sslStatus,
      validation_records:
        entry.sslStatus === 'active'
          ? []
          : [{ txt_name: `_acme-challenge.${entry.hostname}`, txt_value: entry.validationValue }],
    },
    ownership_verification: {
      type: 'txt',
      name: `_cf-custom-hostname.${entry.hostname}`,
      value: entry.ownershipValue,
    },
    verification_errors: entry.status === 'active' ? [] : ['custom hostname does not CNAME to this zone.'],
    created_at: entry.createdAt,
  };
}

export async function startFakeCloudflare(): Promise<FakeCloudflare> {
  const hostnames = new Map<string, Hostname>();
  const records: DnsRecord[] = [];
  const dnsStatus = new Map<string, number>();
  const failures = new Map<Operation, { status: number; times: number }>();
  const requests: unknown[] = [];

  const failing = (operation: Operation): number | null => {
    const failure = failures.get(operation);
    if (!failure || failure.times <= 0) return null;
    failure.times -= 1;
    return failure.status;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown>;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        body = {};
      }
      const json = (status: number, value: unknown, headers: Record<string, string> = {}): true => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
        return true;
      };
      const ok = (result: unknown, status = 200) => json(status, { success: true, errors: [], messages: [], result });
      const error = (status: number, code: number, message: string) =>
        json(status, { success: false, errors: [{ code, message }], messages: [], result: null });
      if (!url.pathname.startsWith('/__')) {
        requests.push({
          method: req.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: Object.fromEntries(Object.entries(req.headers).map(([key, value]) => [key, String(value)])),
          body,
        });
      }

      // ---- test controls ----
      if (url.pathname === '/__requests') return json(200, requests);
      if (url.pathname.startsWith('/__hostnames/') && req.method === 'PUT') {
        const entry = hostnames.get(decodeURIComponent(url.pathname.slice('/__hostnames/'.length)));
        if (!entry) return json(404, { error: 'no such hostname' });
        if (typeof body.status === 'string') entry.status = body.status;
        if (typeof body.sslStatus === 'string') entry.sslStatus = body.sslStatus;
        return json(200, view(entry));
      }
      if (url.pathname === '/__fail' && req.method === 'POST') {
        failures.set(body.operation as Operation, { status: Number(body.status), times: Number(body.times ?? 1) });
        return json(204, {});
      }
      if (url.pathname === '/__dns/status' && req.method === 'PUT') {
        dnsStatus.set(String(body.name), Number(body.status));
        return json(204, {});
      }
      if (url.pathname === '/__dns' && req.method === 'PUT') {
        records.push({
          name: String(body.name),
          type: body.type === 'CNAME' ? 'CNAME' : 'TXT',
          data: String(body.data),
          ttl: Number(body.ttl ?? 300),
        });
        return json(204, {});
      }
      if (url.pathname === '/__dns' && req.method === 'DELETE') {
        const name = url.searchParams.get('name');
        for (let index = records.length - 1; index >= 0; index--) {
          if (records[index]?.name === name) records.splice(index, 1);
        }
        return json(204, {});
      }

      // ---- DNS over HTTPS (JSON API) ----
      if (url.pathname === '/dns-query') {
        if (req.headers.accept !== 'application/dns-json') return json(415, { error: 'accept application/dns-json' });
        const name = (url.searchParams.get('name') ?? '').toLowerCase().replace(/\.$/, '');
        const type = url.searchParams.get('type');
        if (!name || type !== 'TXT') return json(400, { error: 'name and type=TXT' });
        const question = [{ name, type: 16 }];
        const forced = dnsStatus.get(name);
        if (forced !== undefined) return json(200, { Status: forced, Question: question });
        const answer: { name: string; type: number; TTL: number; data: string }[] = [];
        let current = name;
        for (let hop = 0; hop < 10; hop++) {
          const alias = records.find((record) => record.name === current && record.type === 'CNAME');
          if (!alias) break;
          answer.push({ name: `${current}.`, type: 5, TTL: alias.ttl, data: `${alias.data}.` });
          current = alias.data;
        }
        for (const record of records) {
          if (record.name === current && record.type === 'TXT') {
            answer.push({ name: `${current}.`, type: 16, TTL: record.ttl, data: `"${record.data}"` });
          }
        }
        const exists = answer.length > 0 || records.some((record) => record.name.endsWith(`.${name}`));
        return json(200, {
          Status: exists ? 0 : 3,
          TC: false,
          RD: true,
          RA: true,
          AD: false,
          CD: false,
          Question: question,
          ...(answer.length > 0 ? { Answer: answer } : {}),
        });
      }

      // ---- Cloudflare API v4: custom hostnames ----
      const match = /^\/client\/v4\/zones\/([^/]+)\/custom_hostnames(?:\/([^/]+))?$/.exec(url.pathname);
      if (!match) return error(404, 7003, 'Could not route to the requested path.');
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return error(403, 10000, 'Authentication error');
      if (match[1] !== ZONE) return error(404, 1001, 'Invalid zone identifier.');
      const id = match[2];
      if (req.method === 'POST' && id === undefined) {
        const failed = failing('create');
        if (failed !== null) return error(failed, 1000, 'Simulated failure');
        const hostname = typeof body.hostname === 'string' ? body.hostname : '';
        const ssl = body.ssl as { method?: unknown; type?: unknown } | undefined;
        if (!hostname) return error(400, 1409, 'Custom hostname is required.');
        if (!ssl || !['txt', 'http', 'email'].includes(String(ssl.method)) || ssl.type !== 'dv') {
          return error(400, 1411, 'SSL method and type dv are required.');
        }
        if ([...hostnames.values()].some((entry) => entry.hostname === hostname)) {
          return error(409, 1406, 'Duplicate custom hostname found.');
        }
        const entry: Hostname = {
          id: randomUUID(),
          hostname,
          status: 'pending',
          sslStatus: 'pending_validation',
          ownershipValue: randomUUID(),
          validationValue: randomUUID().replaceAll('-', ''),
          createdAt: new Date().toISOString(),
        };
        hostnames.set(hostname, entry);
        return ok(view(entry));
      }
      if (req.method === 'GET' && id === undefined) {
        const failed = failing('list');
        if (failed !== null) return error(failed, 1000, 'Simulated failure');
        const wanted = url.searchParams.get('hostname');
        const result = [...hostnames.values()].filter((entry) => wanted === null || entry.hostname === wanted);
        return json(200, {
          success: true,
          errors: [],
          messages: [],
          result: result.map(view),
          result_info: { page: 1, per_page: 20, count: result.length, total_count: result.length },
        });
      }
      const entry = [...hostnames.values()].find((candidate) => candidate.id === id);
      if (req.method === 'GET') return entry ? ok(view(entry)) : error(404, 1436, 'The custom hostname was not found.');
      if (req.method === 'DELETE') {
        const failed = failing('delete');
        if (failed !== null) return error(failed, 1000, 'Simulated failure');
        if (!entry) return error(404, 1436, 'The custom hostname was not found.');
        hostnames.delete(entry.hostname);
        return ok({ id: entry.id });
      }
      return error(405, 10405, 'Method not allowed');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('fake Cloudflare did not start');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    apiBase: `${url}/client/v4`,
    dohUrl: `${url}/dns-query`,
    token: TOKEN,
    zoneId: ZONE,
    close: () => closeServer(server),
  };
}
