// `node bench/tenant-hints.ts`: what the first request for a host costs, cold and once its tenant entry is past its
// 30 s freshness (issue #13, "tenant lookup"), on the bench stack (wrangler dev, the gateways, real PostgreSQL and
// Redis) over the seeded bench database (`npm run bench:seed` first). For `--hosts` seeded organizations in turn: a
// request on a host this stack never served (the tenant lookup, then the route: what a stale host cost before the
// entries became hints), the same after waiting past TENANT_CACHE_TTL_MS (a hint, checked in the route's own round
// trip), and once more at once (a fresh entry). The request is the public event list as an edge-cache miss (a `to`
// bound unique per request), so every one reads the database. Sequential, one connection: latency, not throughput.
// Prints medians and p95 (ms) and the database round trips per request, with tenant lookups apart.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { TENANT_CACHE_TTL_MS } from '../src/services/tenants/ttl.ts';
import { BENCH_DATABASE_URL } from './fixtures.ts';
import { isTenantLookup } from './load.ts';
import { benchIp, call, capturedSql, percentile, roundTrips, startBenchStack, table } from './stack.ts';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '40' } } });
const hosts = Math.max(1, Number(values.hosts));
// The location tier (the Cache API, kept by wrangler dev in .wrangler/state) remembers hosts for a day, across runs:
// each run takes its hosts from a random place among the 500 organizations `npm run bench:seed` makes by default.
const offset = Math.floor(Math.random() * Math.max(1, 500 - hosts - 1));

const stack = await startBenchStack(BENCH_DATABASE_URL);
try {
  let index = 0;
  const request = async (n: number) => {
    const trace = randomUUID();
    index += 1;
    const to = new Date(Date.UTC(2100, 0, 1) + index).toISOString();
    const started = performance.now();
    const response = await call({
      port: stack.port,
      host: `bench-${String(offset + n)}.localhost`,
      method: 'GET',
      path: `/api/v1/public/events?limit=20&to=${to}`,
      headers: { 'x-request-id': trace, 'cf-connecting-ip': benchIp(index) },
    });
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`bench-${String(offset + n)}: ${String(response.status)}`);
    const trips = await roundTrips(stack, trace);
    const lookups = (await capturedSql(stack, trace)).filter(isTenantLookup).length;
    return { ms, database: trips.database - lookups, lookups };
  };
  const phase = async () => {
    const samples = [];
    for (let n = 1; n <= hosts; n += 1) samples.push(await request(n));
    return samples;
  };
  // One request on another host first: the isolate's own start and first-use costs stay out of the figures.
  await request(hosts + 1);
  const cold = await phase();
  await new Promise((resolve) => setTimeout(resolve, TENANT_CACHE_TTL_MS + 1_000));
  const stale = await phase();
  const warm = await phase();

  const row = (label: string, samples: Awaited<ReturnType<typeof phase>>) => {
    const ms = samples.map((sample) => sample.ms);
    const mean = (pick: (sample: (typeof samples)[number]) => number) =>
      (samples.reduce((sum, sample) => sum + pick(sample), 0) / samples.length).toFixed(2);
    return [
      label,
      percentile(ms, 50).toFixed(1),
      percentile(ms, 95).toFixed(1),
      mean((sample) => sample.lookups),
      mean((sample) => sample.database),
    ];
  };
  console.log(`\n${String(hosts)} seeded hosts, GET /api/v1/public/events (edge-cache miss), one at a time\n`);
  console.log(
    table([
      ['request on a host', 'p50 ms', 'p95 ms', 'tenant lookups', 'route db round trips'],
      row('never served here (cold)', cold),
      row(`served ${String(TENANT_CACHE_TTL_MS / 1000 + 1)} s ago (stale entry)`, stale),
      row('served just now (fresh entry)', warm),
    ]),
  );
} finally {
  await stack.close();
}
