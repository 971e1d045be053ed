import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { outbox } from '../../db/schema/index.ts';
import type { EventType } from './catalogue.ts';
import { isoText } from './views.ts';

/**
 * Writing events into the transactional outbox. Every domain change that has a catalogue type (catalogue.ts) puts
 * one of these statements into the SAME batch as the change, like its audit row: the event exists exactly when the
 * change committed, and a refused change (an aborted batch) leaves none. The dispatcher (dispatch.ts) publishes the
 * rows to the queues afterwards.
 *
 * The stored payload is the event as webhooks deliver it: `{ type, timestamp, data }`, `timestamp` being the time
 * of the change (the transaction's `now()`, ISO 8601 UTC) and `data` the full object after the change, in the same
 * view the API returns. Rows are created with `clock_timestamp()`, so the events of one transaction keep the order
 * of their statements (e.g. `booking.created` before `booking.confirmed`).
 *
 * Each statement gets its row id in JS and remembers it on the database client it was built with (a request's
 * client lives as long as the request): after the batch committed, `notifyOutbox(ctx, organizationId)` dispatches
 * exactly the rows this request wrote, so concurrent requests of one organization never publish each other's rows.
 * Ids of statements that did not commit (an aborted batch, a conditional insert that inserted nothing) find no row
 * and are ignored.
 */

export interface OutboxEntry<Data> {
  organizationId: string;
  type: EventType;
  data: Data;
}

const written = new WeakMap<Database, string[]>();

function remember(db: Database): string {
  const id = crypto.randomUUID();
  const ids = written.get(db);
  if (ids === undefined) written.set(db, [id]);
  else ids.push(id);
  return id;
}

/** The ids of the outbox statements built with this client since the last call (for the after-response dispatch). */
export function takeOutboxIds(db: Database): string[] {
  const ids = written.get(db) ?? [];
  written.delete(db);
  return ids;
}

function payload(type: EventType, data: SQL): SQL {
  return sql`jsonb_build_object('type', ${type}::text, 'timestamp', ${isoText(sql`now()`)}, 'data', ${data})`;
}

/**
 * The insert of one event whose data is known in JS (built from what the batch writes or from rows read before it).
 *
 * @example
 * await scoped(db, scope, [change, auditInsert(...), outboxInsert(db, { organizationId, type: 'membership.updated', data: member })]);
 */
export function outboxInsert(db: Database, entry: OutboxEntry<object>) {
  return db.insert(outbox).values({
    id: remember(db),
    organizationId: entry.organizationId,
    type: entry.type,
    payload: payload(entry.type, sql`${JSON.stringify(entry.data)}::jsonb`),
    createdAt: sql`clock_timestamp()`,
  });
}

export interface OutboxSelectOptions {
  /** The row the data expression reads from (e.g. a CTE of the same statement; at most one row): `from <from>`. */
  from?: SQL;
  /** Only when this holds (e.g. the booking is confirmed); otherwise the statement inserts nothing. */
  when?: SQL;
}

/**
 * `insert into outbox ... select ...` of one event whose data is a SQL `jsonb` expression, e.g. `bookingData(...)`
 * of views.ts, evaluated when the statement runs: after the earlier statements of the batch, so it sees the change.
 * Nothing is inserted when the expression is null (no such row) or `when` is false. Use it as a statement of its
 * own (`outboxInsertSelect`) or inside a data-modifying CTE of a larger statement (check-in).
 */
export function outboxInsertSql(db: Database, entry: OutboxEntry<SQL>, options: OutboxSelectOptions = {}): SQL {
  const from = options.from === undefined ? sql`` : sql` from ${options.from}`;
  const when = options.when === undefined ? sql`` : sql` and (${options.when})`;
  return sql`insert into ${outbox} (id, organization_id, type, payload, created_at)
    select ${remember(db)}::uuid, ${entry.organizationId}::uuid, ${entry.type}::text, ${payload(entry.type, sql`d.data`)},
      clock_timestamp()
    from (select ${entry.data} as data${from}) d
    where d.data is not null${when}`;
}

/** The batch statement of `outboxInsertSql`. */
export function outboxInsertSelect(db: Database, entry: OutboxEntry<SQL>, options: OutboxSelectOptions = {}) {
  return db.execute(outboxInsertSql(db, entry, options));
}

/**
 * One event per row of `from` (a data-modifying CTE of the same statement, with its alias and filter), whose `data`
 * expression reads that row: for a change of many rows in one statement (the waitlist's settled offers). The ids are
 * made by the database, so the request's after-response dispatch does not know them: the scheduled sweep publishes
 * these rows (within its minute).
 */
export function outboxInsertEachSql(entry: OutboxEntry<SQL>, from: SQL): SQL {
  return sql`insert into ${outbox} (id, organization_id, type, payload, created_at)
    select gen_random_uuid(), ${entry.organizationId}::uuid, ${entry.type}::text, ${payload(entry.type, sql`d.data`)},
      clock_timestamp()
    from (select ${entry.data} as data from ${from}) d
    where d.data is not null`;
}

/** One event of `outboxInsertMany`: its data as a SQL `jsonb` expression, written only when `when` holds (if given). */
export interface OutboxManyEntry extends OutboxEntry<SQL> {
  when?: SQL;
}

/**
 * ONE `insert into outbox ... select` of several events, for a change that writes more than one (a free checkout:
 * `booking.created`, `booking.confirmed`, `payment.succeeded`): one statement in the batch instead of one per event.
 * Each entry is written only when its data is not null and its `when` holds, like `outboxInsertSql`. The rows'
 * `created_at` is one `clock_timestamp()` plus the entry's position in microseconds, so the dispatcher (ordered by
 * `created_at`, then id) publishes them in list order, as it would separate statements. Entries given the same `data`
 * object share one CTE: the database plans and computes that view once (a free checkout's booking, in two events).
 */
export function outboxInsertMany(db: Database, entries: readonly [OutboxManyEntry, ...OutboxManyEntry[]]) {
  const views: SQL[] = [];
  const viewName = (index: number) => sql.raw(`d${String(index)}`);
  const rows = entries.map((entry, position) => {
    let index = views.indexOf(entry.data);
    if (index < 0) index = views.push(entry.data) - 1;
    const view = viewName(index);
    const when = entry.when === undefined ? sql`` : sql` and (${entry.when})`;
    return sql`select ${remember(db)}::uuid as id, ${entry.organizationId}::uuid as organization_id,
        ${entry.type}::text as type, ${payload(entry.type, sql`${view}.data`)} as payload, ${position}::int as position
      from ${view} where ${view}.data is not null${when}`;
  });
  const ctes = views.map((data, index) => sql`${viewName(index)} as (select ${data} as data)`);
  return db.execute(sql`insert into ${outbox} (id, organization_id, type, payload, created_at)
    with ${sql.join(ctes, sql`, `)}
    select r.id, r.organization_id, r.type, r.payload, t.at + r.position * interval '1 microsecond'
    from (${sql.join(rows, sql` union all `)}) r, (select clock_timestamp() as at) t`);
}
