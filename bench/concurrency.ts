// 1,000 buyers for 100 seats on the scale data: a new event in a seeded organization with one free ticket type of
// 100 seats, then 1,000 checkouts of one ticket each, all at once (one connection per buyer, each from its own
// address, each with its own Idempotency-Key). Exactly 100 must get 201 and the other 900 409 `sold_out`; the
// database must agree (sold = 100, held = 0, 100 bookings, 100 tickets). Time to drain: first request sent to last
// answer received. Its floor (`staticRush`): as many `GET /health` sent the same way, which is what the rush's shape
// costs the local stack (two workerd processes, wrangler, the gateways) before any checkout work.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { createOnSaleEvent, type Fixtures } from './fixtures.ts';
import { cpuBetween, type StackCpu } from './process-cpu.ts';
import { benchIp, type BenchStack } from './stack.ts';

export interface ConcurrencyResult {
  buyers: number;
  seats: number;
  created: number;
  soldOut: number;
  other: Record<string, number>;
  drainSeconds: number;
  /** CPU seconds each part of the stack took from the first request sent to the last answer (null off Linux). */
  cpu: StackCpu | null;
  database: { sold: number; held: number; bookings: number; tickets: number };
  ok: boolean;
}

export async function rush(
  stack: BenchStack,
  fixtures: Fixtures,
  databaseUrl: string,
  options: { buyers: number; seats: number },
): Promise<ConcurrencyResult> {
  const tenant = fixtures.tenants[fixtures.tenants.length - 1];
  if (!tenant) throw new Error('no fixtures');
  const {
    id: eventId,
    slug,
    ticketTypeId,
  } = await createOnSaleEvent(stack, tenant.host, tenant.accessToken, {
    title: `Benchmark rush ${fixtures.runId}`,
    slug: `bench-rush-${fixtures.runId}`,
    ticketTypeName: 'Rush',
    quantity: options.seats,
  });

  const { statuses, drainSeconds, cpu } = await allAtOnce(stack, options.buyers, (i) => ({
    method: 'POST',
    path: `/api/v1/public/events/${slug}/bookings`,
    headers: {
      host: tenant.host,
      'content-type': 'application/json',
      'cf-connecting-ip': benchIp(20_000 + i),
      'idempotency-key': randomUUID(),
      'x-request-id': `bench-rush-${fixtures.runId}-${i}`,
    },
    body: JSON.stringify({
      buyer: { name: `Rush buyer ${i}`, email: `rush${i}@example.com` },
      items: [{ ticketTypeId, quantity: 1 }],
    }),
  }));

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let database: ConcurrencyResult['database'];
  try {
    const { rows } = await client.query<{ sold: number; held: number; bookings: number; tickets: number }>(
      `select e.sold, e.held,
          (select count(*)::int from bookings b where b.organization_id = e.organization_id and b.event_id = e.id
             and b.status = 'confirmed') as bookings,
          (select count(*)::int from attendees a where a.organization_id = e.organization_id
             and a.ticket_type_id = $2 and a.status = 'valid') as tickets
         from events e where e.id = $1`,
      [eventId, ticketTypeId],
    );
    database = rows[0] ?? { sold: -1, held: -1, bookings: -1, tickets: -1 };
  } finally {
    await client.end();
  }
  const created = statuses['201'] ?? 0;
  const soldOut = statuses['409'] ?? 0;
  const other = Object.fromEntries(Object.entries(statuses).filter(([status]) => status !== '201' && status !== '409'));
  return {
    buyers: options.buyers,
    seats: options.seats,
    created,
    soldOut,
    other,
    drainSeconds,
    cpu,
    database,
    ok:
      created === options.seats &&
      soldOut === options.buyers - options.seats &&
      database.sold === options.seats &&
      database.held === 0 &&
      database.bookings === options.seats &&
      database.tickets === options.seats,
  };
}

/** What many requests sent all at once came back as, how long they took to drain and the stack's CPU meanwhile. */
export interface AllAtOnce {
  statuses: Record<string, number>;
  drainSeconds: number;
  cpu: StackCpu | null;
}

/**
 * Sends `count` requests at once, each on its own connection (autocannon, one request per connection), and waits for
 * every answer: the rush's shape, shared with its floor (`staticRush`).
 */
async function allAtOnce(
  stack: BenchStack,
  count: number,
  request: (i: number) => { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string },
): Promise<AllAtOnce> {
  const statuses: Record<string, number> = {};
  let sent = 0;
  let last = 0;
  const cpuBefore = stack.cpu();
  const started = performance.now();
  await autocannon({
    url: `http://127.0.0.1:${stack.port}`,
    connections: count,
    amount: count,
    timeout: 120,
    requests: [
      {
        setupRequest: (base) => ({ ...base, ...request(sent++) }),
        onResponse: (status) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          last = performance.now();
        },
      },
    ],
  });
  return { statuses, drainSeconds: (last - started) / 1000, cpu: cpuBetween(cpuBefore, stack.cpu()) };
}

/**
 * The rush's floor on this machine: as many `GET /health` (static JSON, no I/O) sent at once as the rush has buyers,
 * through the same stack. Every part of the local stack (two workerd processes, wrangler, the gateways, PostgreSQL)
 * shares the machine's cores, so this is what the rush's shape costs before any checkout work.
 */
export async function staticRush(stack: BenchStack, count: number): Promise<AllAtOnce> {
  return allAtOnce(stack, count, () => ({
    method: 'GET',
    path: '/health',
    headers: { host: 'localhost' },
  }));
}
