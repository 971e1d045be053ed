import { and, eq, or, sql, type SQL } from 'drizzle-orm';
import { events, ticketTypes } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { actorOf, violatedConstraint } from '../events/shared.ts';
import { assertConsistentTicketType, type CreateTicketTypeInput } from '../events/ticket-types.ts';
import { firstFreeSlug, slugFromTitle, type CreateEventInput } from '../events/write.ts';
import { outboxInsertEachSql } from '../outbox/record.ts';
import { eventData, ticketTypeData } from '../outbox/views.ts';
import { isPlanLimit, planLimitError, quotaGuard, quotaLimit } from '../plans/quotas.ts';
import { insertImportKeys, knownImportKeys } from './keys.ts';
import { reportRows, type ImportIssue, type ImportReport, type ImportReportRow } from './report.ts';

/** The most events one apply creates (one batch, one transaction: within Neon's 10 MiB request and 65,535 parameters a statement). */
export const MAX_APPLY_EVENTS = 1000;
/** The most ticket types one apply creates. */
export const MAX_APPLY_TICKET_TYPES = 2000;
/** The most row errors a refused apply names (the dry run reports them all). */
const MAX_APPLY_ERRORS = 100;
const IMPORT_KIND = 'event';
const SLUG_CONSTRAINT = 'events_organization_id_slug_key';
const LEDGER_CONSTRAINT = 'import_keys_organization_id_kind_external_id_pk';

/** One event of an import file, validated as POST /api/v1/events and POST .../ticket-types validate (the route layer). */
export interface EventImportRow {
  /** 1-based position of the event in the file. */
  row: number;
  /** CSV: the lines of the event (its first, then one per further ticket type); JSON: empty. */
  lines: number[];
  pointer: string | null;
  externalId: string | null;
  publish: boolean;
  /** Null when the row has errors. */
  event: CreateEventInput | null;
  ticketTypes: Omit<CreateTicketTypeInput, 'eventId'>[];
  errors: ImportIssue[];
  warnings: ImportIssue[];
}

/**
 * `(select jsonb_array_elements_text($1::jsonb))`: a list of texts as ONE parameter, for `in` and `any(array...)`
 * (a dry run may name 100,000 keys; a statement takes at most 65,535 parameters).
 */
function jsonTexts(values: readonly string[]): SQL {
  return sql`(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
}

interface Planned {
  report: ImportReportRow;
  source: EventImportRow;
  slug: string;
}

/** Where an issue is as a problem pointer: `/body/events/3/title` (JSON) or `/body/line/7/title` (CSV). */
function issuePointer(issue: ImportIssue): string {
  return issue.line === null ? `/body${issue.field}` : `/body/line/${String(issue.line)}/${issue.field}`;
}

function concurrentImport(): ApiError {
  return new ApiError('conflict', {
    detail:
      'Another change took an externalId or a slug of this file while it was imported; nothing was written. Run ' +
      'the dry run again and re-apply.',
  });
}

/**
 * Imports events with their ticket types (issue #16 part 3). Reads, in one round trip, which `externalId`s an earlier
 * import already created (those rows are `skip_existing`), the slugs they would collide with, and the published
 * events the plan counts; then reports every row. A dry run stops there (one read round trip, nothing written).
 * An apply refuses the whole file when any row has an error (422, naming up to 100), when it would create more than
 * MAX_APPLY_EVENTS events or MAX_APPLY_TICKET_TYPES ticket types (413), or when its published events would exceed
 * the plan's `publishedEvents` quota (403 `plan_limit`, also on a dry run); otherwise it writes everything in one
 * batch (a second round trip, one transaction): the ledger rows, the events (drafts, or published with `publish`),
 * their ticket types, one `import.events` audit row with the counts, and the `event.created`, `event.published` and
 * `ticket_type.created` outbox events the single creates emit (published by the outbox sweep). The ledger's key
 * (organization, kind, externalId) makes a concurrent import of the same rows fail as a whole (409).
 */
export async function importEvents({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { format: 'csv' | 'json'; dryRun: boolean; rows: EventImportRow[] };
}): Promise<ImportReport> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const scope = { organizationId };
  const valid = input.rows.filter((row) => row.errors.length === 0 && row.event !== null);
  const externalIds = valid.map((row) => row.externalId ?? '');
  const givenSlugs = valid.flatMap((row) => (row.event?.slug === undefined ? [] : [row.event.slug]));
  const bases = [
    ...new Set(valid.flatMap((row) => (row.event?.slug === undefined ? [slugFromTitle(row.event?.title ?? '')] : []))),
  ];
  const anyPublish = valid.some((row) => row.publish);

  const [known, taken, [published]] = await scoped(db, scope, [
    knownImportKeys(db, organizationId, IMPORT_KIND, externalIds),
    db
      .select({ slug: events.slug })
      .from(events)
      .where(
        and(
          eq(events.organizationId, organizationId),
          or(
            sql`${events.slug} in ${jsonTexts([...givenSlugs, ...bases])}`,
            // `base-2`, `base-3`, ...: what firstFreeSlug would pick next (a hash join, not one LIKE per base).
            sql`regexp_replace(${events.slug}, '-[0-9]+$', '') in ${jsonTexts(bases)}`,
          ),
        ),
      ),
    db
      .select({ count: sql<number>`count(*)::int` })
      .from(events)
      .where(
        and(
          eq(events.organizationId, organizationId),
          eq(events.status, 'published'),
          anyPublish ? undefined : sql`false`,
        ),
      ),
  ]);
  const existing = new Map(known.map((row) => [row.externalId, row.entityId]));
  const takenSlugs = new Set(taken.map((row) => row.slug));

  const planned: Planned[] = [];
  const reportFor = (row: EventImportRow): ImportReportRow => {
    const base = {
      row: row.row,
      lines: row.lines,
      pointer: row.pointer,
      externalId: row.externalId,
      warnings: row.warnings,
    };
    if (row.errors.length > 0 || row.event === null) {
      return { ...base, outcome: 'error', entityId: null, errors: row.errors };
    }
    const previous = existing.get(row.externalId ?? '');
    if (previous !== undefined) return { ...base, outcome: 'skip_existing', entityId: previous, errors: [] };
    let slug = row.event.slug;
    if (slug !== undefined && takenSlugs.has(slug)) {
      const field = row.pointer === null ? 'slug' : `${row.pointer}/slug`;
      const issue = { line: row.lines[0] ?? null, field, message: 'Another event already uses this slug.' };
      return { ...base, outcome: 'error', entityId: null, errors: [issue] };
    }
    slug ??= firstFreeSlug(slugFromTitle(row.event.title), takenSlugs);
    takenSlugs.add(slug);
    const report: ImportReportRow = { ...base, outcome: 'create', entityId: null, errors: [] };
    planned.push({ report, source: row, slug });
    return report;
  };
  const rows = input.rows.map(reportFor);

  const creating = planned.length;
  const ticketTypeCount = planned.reduce((sum, entry) => sum + entry.source.ticketTypes.length, 0);
  const publishing = planned.filter((entry) => entry.source.publish).length;
  const limit = quotaLimit(tenant, 'publishedEvents');
  if (publishing > 0 && limit !== null && (published?.count ?? 0) + publishing > limit) {
    throw planLimitError(tenant, 'publishedEvents');
  }
  const errorRows = rows.filter((row) => row.outcome === 'error');
  const report = (dryRun: boolean): ImportReport => ({
    kind: 'events',
    format: input.format,
    dryRun,
    totals: {
      rows: rows.length,
      create: creating,
      skipExisting: rows.filter((row) => row.outcome === 'skip_existing').length,
      error: errorRows.length,
      ticketTypes: ticketTypeCount,
      publish: publishing,
    },
    ...reportRows(rows),
  });
  if (input.dryRun) return report(true);

  if (errorRows.length > 0) {
    const issues = errorRows.flatMap((row) => row.errors);
    throw new ApiError('unprocessable', {
      detail:
        `${String(errorRows.length)} of ${String(rows.length)} rows have errors; nothing was written. A dry run ` +
        'reports every row.',
      errors: issues
        .slice(0, MAX_APPLY_ERRORS)
        .map((issue) => ({ pointer: issuePointer(issue), message: issue.message })),
    });
  }
  if (creating > MAX_APPLY_EVENTS || ticketTypeCount > MAX_APPLY_TICKET_TYPES) {
    throw new ApiError('payload_too_large', {
      detail:
        `One apply creates at most ${String(MAX_APPLY_EVENTS)} events and ${String(MAX_APPLY_TICKET_TYPES)} ticket ` +
        `types; this file would create ${String(creating)} and ${String(ticketTypeCount)}. Split it (rows already ` +
        'imported are skipped when a file is applied again).',
      extensions: { maxEvents: MAX_APPLY_EVENTS, maxTicketTypes: MAX_APPLY_TICKET_TYPES },
    });
  }
  if (creating === 0) return report(false);

  const eventRows = planned.map((entry) => {
    const event = entry.source.event as CreateEventInput;
    const id = crypto.randomUUID();
    entry.report.entityId = id;
    return {
      id,
      organizationId,
      slug: entry.slug,
      title: event.title,
      description: event.description ?? '',
      visibility: event.visibility ?? 'public',
      timezone: event.timezone,
      startsAt: event.startsAt,
      endsAt: event.endsAt,
      venue: event.venue ?? null,
      onlineUrl: event.onlineUrl ?? null,
      categories: event.categories ?? [],
      coverImageUrl: event.coverImageUrl ?? null,
      capacity: event.capacity ?? null,
      transfersAllowed: event.transfersAllowed ?? true,
      transferCutoffMinutes: event.transferCutoffMinutes ?? 0,
      buyerCancellation: event.buyerCancellation ?? 'none',
      buyerCancellationCutoffMinutes: event.buyerCancellationCutoffMinutes ?? 0,
      attendeeEditCutoffMinutes: event.attendeeEditCutoffMinutes ?? null,
      ...(entry.source.publish ? { status: 'published' as const, publishedAt: sql`now()` } : {}),
    };
  });
  const ticketTypeRows = planned.flatMap((entry) =>
    entry.source.ticketTypes.map((ticketType) => ({
      id: crypto.randomUUID(),
      organizationId,
      eventId: entry.report.entityId as string,
      name: ticketType.name,
      description: ticketType.description ?? '',
      price: ticketType.price,
      currency: ticketType.currency,
      quantity: ticketType.quantity,
      sortOrder: ticketType.sortOrder ?? 0,
      taxRate: ticketType.taxRate ?? 0,
      ...assertConsistentTicketType(ticketType),
    })),
  );
  const ids = (list: readonly { id: string }[]) =>
    sql`(select value::uuid as id from jsonb_array_elements_text(${JSON.stringify(list.map((row) => row.id))}::jsonb)) r`;
  const publishedRows = eventRows.filter((row) => 'status' in row);
  const outbox = [
    outboxInsertEachSql(
      { organizationId, type: 'event.created', data: eventData(organizationId, sql`r.id`) },
      ids(eventRows),
    ),
    ...(publishedRows.length === 0
      ? []
      : [
          outboxInsertEachSql(
            { organizationId, type: 'event.published', data: eventData(organizationId, sql`r.id`) },
            ids(publishedRows),
          ),
        ]),
    ...(ticketTypeRows.length === 0
      ? []
      : [
          outboxInsertEachSql(
            { organizationId, type: 'ticket_type.created', data: ticketTypeData(organizationId, sql`r.id`) },
            ids(ticketTypeRows),
          ),
        ]),
  ];

  try {
    await scoped(db, scope, [
      // The plan's quota of published events: serialized per organization, counted at write time.
      ...quotaGuard(db, tenant, 'publishedEvents', { enforce: publishing > 0, adding: publishing }),
      insertImportKeys(db, organizationId, IMPORT_KIND, planned),
      db.insert(events).values(eventRows),
      ...(ticketTypeRows.length === 0 ? [] : [db.insert(ticketTypes).values(ticketTypeRows)]),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'import.events',
        metadata: {
          format: input.format,
          rows: rows.length,
          created: creating,
          skippedExisting: rows.length - creating,
          ticketTypes: ticketTypeRows.length,
          published: publishing,
        },
      }),
      ...outbox.map((statement) => db.execute(statement)),
    ]);
  } catch (error) {
    if (isPlanLimit(error)) throw planLimitError(tenant, 'publishedEvents');
    const constraint = violatedConstraint(error);
    if (constraint === SLUG_CONSTRAINT || constraint === LEDGER_CONSTRAINT) throw concurrentImport();
    throw error;
  }
  return report(false);
}
