import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs } from '../../src/db/schema/index.ts';
import type { AuditListResponse } from '../../src/routes/audit-logs/schema.ts';
import { AUDIT_CELL_BOUNDS, MAX_AUDIT_METADATA } from '../../src/services/audit/bounds.ts';
import { csvCell, maxCsvCell } from '../../src/lib/csv.ts';
import { CSV_COLUMNS, csvLine, MAX_CSV_EXPORT, MAX_CSV_ROW, MAX_EXPORT_ROWS } from '../../src/services/audit/export.ts';
import type { AuditEntryView } from '../../src/services/audit/list.ts';
import { auditInsert } from '../../src/services/audit/record.ts';
import { createTenant, database, newRequestId, problem, roundTrips, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

type AuditInsert = typeof auditLogs.$inferInsert;
type Entry = AuditListResponse['data'][number];

const BASE = Date.UTC(2026, 4, 1, 9, 0, 0);
const ALICE = crypto.randomUUID();
const BOB = crypto.randomUUID();

/** Audit rows straight into the database (owner connection), `at` seconds after BASE. */
async function insertRows(tenant: TestTenant, rows: (Partial<AuditInsert> & { at: number })[]) {
  return database()
    .insert(auditLogs)
    .values(
      rows.map(({ at, ...row }) => ({
        organizationId: tenant.organization.id,
        actorType: 'user',
        action: 'event.updated',
        createdAt: new Date(BASE + at * 1000),
        ...row,
      })),
    )
    .returning({ id: auditLogs.id });
}

/** A realistic log: bookings, events, members, by two people, some at the very same instant. */
async function seed(tenant: TestTenant) {
  await insertRows(tenant, [
    { at: 1, action: 'booking.created', actorType: 'anonymous', targetType: 'booking', targetId: 'b-1' },
    { at: 2, action: 'booking.cancelled', actorUserId: ALICE, targetType: 'booking', targetId: 'b-1' },
    { at: 3, action: 'event.published', actorUserId: ALICE, targetType: 'event', targetId: 'e-1' },
    { at: 4, action: 'booking.refunded', actorUserId: BOB, targetType: 'booking', targetId: 'b-2' },
    { at: 4, action: 'book_ng.tested', actorUserId: BOB, targetType: 'booking', targetId: 'b-3' },
    { at: 4, action: 'bookings.exported', actorUserId: BOB },
    {
      at: 5,
      action: 'membership.invited',
      actorUserId: ALICE,
      targetType: 'user',
      targetId: BOB,
      metadata: { role: 'staff' },
    },
    { at: 6, action: 'booking.created', actorType: 'anonymous', targetType: 'booking', targetId: 'b-2' },
  ]);
}

function list(tenant: TestTenant, token: string, query = '') {
  return call(tenant, 'GET', `/api/v1/audit-logs${query}`, { token });
}

async function page(tenant: TestTenant, token: string, query = ''): Promise<AuditListResponse> {
  const response = await list(tenant, token, query);
  expect(response.status).toBe(200);
  return response.json();
}

async function auditor(plan: 'starter' | 'pro' = 'pro') {
  const tenant = await createTenant({ plan });
  const { token } = await memberWithToken(tenant, 'admin');
  return { tenant, token };
}

/** Every entry, following nextCursor. */
async function all(tenant: TestTenant, token: string, query: string, limit: number): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  do {
    const separator = query ? '&' : '?';
    const next: AuditListResponse = await page(
      tenant,
      token,
      `${query}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(next.data.length).toBeLessThanOrEqual(limit);
    entries.push(...next.data);
    cursor = next.nextCursor;
  } while (cursor !== null);
  return entries;
}

describe('GET /api/v1/audit-logs', () => {
  it('lists the entries newest first, id breaking ties, with every field and no secret', async () => {
    const { tenant, token } = await auditor();
    await seed(tenant);
    const body = await page(tenant, token);
    expect(body.nextCursor).toBeNull();
    expect(body.data.map((entry) => entry.action)).toEqual([
      'booking.created',
      'membership.invited',
      'bookings.exported',
      'book_ng.tested',
      'booking.refunded',
      'event.published',
      'booking.cancelled',
      'booking.created',
    ]);
    const ids = body.data.map((entry) => BigInt(entry.id));
    expect(ids[2]).toBeGreaterThan(ids[3] ?? 0n);
    expect(body.data[1]).toEqual({
      id: expect.stringMatching(/^\d+$/) as string,
      createdAt: new Date(BASE + 5000).toISOString(),
      actor: { type: 'user', userId: ALICE, apiKeyId: null },
      action: 'membership.invited',
      target: { type: 'user', id: BOB },
      ip: null,
      userAgent: null,
      requestId: null,
      correlationId: null,
      metadata: { role: 'staff' },
    });
    expect(body.data[2]?.target).toBeNull();
  });

  it('pages with a cursor through rows sharing a timestamp, each entry exactly once', async () => {
    const { tenant, token } = await auditor();
    await seed(tenant);
    const whole = (await page(tenant, token)).data.map((entry) => entry.id);
    for (const limit of [1, 2, 3]) {
      expect((await all(tenant, token, '', limit)).map((entry) => entry.id)).toEqual(whole);
    }
    const first = await page(tenant, token, '?limit=3');
    expect(first.nextCursor).not.toBeNull();
    const id = newRequestId();
    const second = await call(tenant, 'GET', `/api/v1/audit-logs?limit=3&cursor=${first.nextCursor ?? ''}`, {
      token,
      headers: { 'x-request-id': id },
    });
    expect(second.status).toBe(200);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
  });

  it.each([
    ['actor', `?actor=${ALICE}`, ['membership.invited', 'event.published', 'booking.cancelled']],
    ['an exact action', '?action=booking.created', ['booking.created', 'booking.created']],
    [
      'an action prefix',
      '?action=booking.*',
      ['booking.created', 'booking.refunded', 'booking.cancelled', 'booking.created'],
    ],
    ['a prefix whose _ matches only itself', '?action=book_ng.*', ['book_ng.tested']],
    ['a target type', '?targetType=event', ['event.published']],
    ['a target', '?targetType=booking&targetId=b-1', ['booking.cancelled', 'booking.created']],
    ['a target id', '?targetId=b-2', ['booking.created', 'booking.refunded']],
    [
      'a time range (from inclusive, to exclusive)',
      `?from=${new Date(BASE + 2000).toISOString()}&to=${new Date(BASE + 5000).toISOString()}`,
      ['bookings.exported', 'book_ng.tested', 'booking.refunded', 'event.published', 'booking.cancelled'],
    ],
    ['several filters at once', `?actor=${BOB}&action=booking.*`, ['booking.refunded']],
    ['a filter matching nothing', '?action=payment.*', []],
  ])('filters by %s', async (_label, query, actions) => {
    const { tenant, token } = await auditor();
    await seed(tenant);
    expect((await all(tenant, token, query, 2)).map((entry) => entry.action)).toEqual(actions);
  });

  it.each([
    ['an unknown parameter', '?user=me'],
    ['a malformed actor', '?actor=alice'],
    ['a malformed action', '?action=booking.*.created'],
    ['a bare wildcard', '?action=*'],
    ['to not after from', '?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z'],
    ['a limit above 100', '?limit=101'],
    ['a limit of 0', '?limit=0'],
    ['a malformed cursor', '?cursor=bm90LWEtY3Vyc29y'],
    ['a cursor with a forged id', `?cursor=${btoa(JSON.stringify(['2026-05-01T09:00:00.000000Z', '1 or 1=1']))}`],
  ])('answers 400 for %s', async (_label, query) => {
    const { tenant, token } = await auditor();
    const response = await list(tenant, token, query);
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
  });

  it("never shows another organization's entries or platform entries", async () => {
    const { tenant, token } = await auditor();
    const other = await createTenant();
    await seed(other);
    await insertRows(tenant, [{ at: 1, action: 'role.created' }]);
    await database()
      .insert(auditLogs)
      .values({ organizationId: null, actorType: 'platform_admin', action: 'auth.login', createdAt: new Date(BASE) });
    expect((await all(tenant, token, '', 100)).map((entry) => entry.action)).toEqual(['role.created']);
    expect((await page(tenant, token, '?action=booking.*')).data).toEqual([]);
  });

  it('needs audit:read on an organization host', async () => {
    const { tenant } = await auditor();
    expect((await call(tenant, 'GET', '/api/v1/audit-logs')).status).toBe(401);
    const { token: organizer } = await memberWithToken(tenant, 'organizer');
    const refused = await list(tenant, organizer);
    expect(refused.status).toBe(403);
    expect((await problem(refused)).detail).toBe('This needs the audit:read permission.');
  });
});

/** A small RFC 4180 parser for the assertions. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charAt(index);
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        cell += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\r' && text[index + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      index += 1;
    } else cell += char;
  }
  expect(cell).toBe('');
  expect(row).toEqual([]);
  return rows;
}

function exportAudit(tenant: TestTenant, token: string, query: string) {
  return call(tenant, 'GET', `/api/v1/audit-logs/export${query}`, { token });
}

describe('GET /api/v1/audit-logs/export', () => {
  it('streams CSV with a header row, quoting, and formulas neutralized', async () => {
    const { tenant, token } = await auditor();
    await insertRows(tenant, [
      { at: 1, action: 'note.added', targetType: 'booking', targetId: '=HYPERLINK("http://evil.example","x")' },
      { at: 2, action: 'note.added', targetType: 'booking', targetId: '+1', userAgent: '@SUM(A1)' },
      { at: 3, action: 'note.added', targetType: 'booking', targetId: '-2', ip: '203.0.113.9', userAgent: '\tcmd' },
      {
        at: 4,
        action: 'note.added',
        actorUserId: ALICE,
        metadata: { note: 'a "quoted", comma', lines: 'one\ntwo' },
        userAgent: 'Mozilla/5.0, like "Gecko"',
        requestId: 'req-1',
        correlationId: 'client-label-1',
      },
    ]);
    const response = await exportAudit(tenant, token, '?format=csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(
      new RegExp(`^attachment; filename="audit-log-${tenant.organization.slug}-\\d{8}T\\d{6}Z\\.csv"$`),
    );
    const text = await response.text();
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([
      'id',
      'created_at',
      'actor_type',
      'actor_user_id',
      'action',
      'target_type',
      'target_id',
      'ip',
      'user_agent',
      'request_id',
      'correlation_id',
      'metadata',
    ]);
    expect(rows).toHaveLength(4);
    expect(rows[0]?.slice(1)).toEqual([
      new Date(BASE + 4000).toISOString(),
      'user',
      ALICE,
      'note.added',
      '',
      '',
      '',
      'Mozilla/5.0, like "Gecko"',
      'req-1',
      'client-label-1',
      JSON.stringify({ note: 'a "quoted", comma', lines: 'one\ntwo' }),
    ]);
    expect(rows[1]?.[6]).toBe("'-2");
    expect(rows[1]?.[7]).toBe('203.0.113.9');
    expect(rows[1]?.[8]).toBe("'\tcmd");
    expect(rows[2]?.[6]).toBe("'+1");
    expect(rows[2]?.[8]).toBe("'@SUM(A1)");
    expect(rows[3]?.[6]).toBe(`'=HYPERLINK("http://evil.example","x")`);
    // No cell of the file starts with a formula character, quoted or not.
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
  });

  it('escapes single cells as RFC 4180 and OWASP ask', () => {
    expect(csvCell(null)).toBe('');
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('  =1+1')).toBe(`"'  =1+1"`);
    expect(csvCell('\rx')).toBe(`"'\rx"`);
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('streams JSON as one array equal to the list, across many pages, with the same filters', async () => {
    const { tenant, token } = await auditor();
    await insertRows(
      tenant,
      Array.from({ length: 1203 }, (_, index) => ({
        at: Math.floor(index / 3),
        action: index % 2 === 0 ? 'booking.created' : 'event.updated',
        targetType: 'booking',
        targetId: `b-${index}`,
        metadata: { index },
      })),
    );
    const response = await exportAudit(tenant, token, '?format=json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(/\.json"$/);
    const exported: Entry[] = await response.json();
    expect(exported).toHaveLength(1203);
    expect(new Set(exported.map((entry) => entry.id)).size).toBe(1203);
    for (let index = 1; index < exported.length; index += 1) {
      const [previous, current] = [exported[index - 1], exported[index]] as [Entry, Entry];
      const order =
        previous.createdAt.localeCompare(current.createdAt) || Number(BigInt(previous.id) - BigInt(current.id));
      expect(order).toBeGreaterThan(0);
    }
    expect(exported.slice(0, 100)).toEqual((await page(tenant, token, '?limit=100')).data);

    const filtered: Entry[] = await (await exportAudit(tenant, token, '?format=json&action=booking.*')).json();
    expect(filtered).toHaveLength(602);
    expect(filtered.every((entry) => entry.action === 'booking.created')).toBe(true);
    const csv = await (await exportAudit(tenant, token, '?action=booking.*')).text();
    expect(parseCsv(csv)).toHaveLength(603);
  });

  it('exports an empty log as a header row or an empty array', async () => {
    const { tenant, token } = await auditor();
    const csv = await exportAudit(tenant, token, '?action=nothing.*');
    expect(parseCsv(await csv.text())).toHaveLength(1);
    const json = await exportAudit(tenant, token, '?format=json&action=nothing.*');
    expect(await json.json()).toEqual([]);
  });

  it('is refused on the starter plan (no exports feature) and without audit:read', async () => {
    const { tenant, token } = await auditor('starter');
    await seed(tenant);
    const refused = await exportAudit(tenant, token, '?format=csv');
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'feature_unavailable', plan: 'starter', feature: 'exports' });
    // The list itself is in every plan.
    expect((await list(tenant, token)).status).toBe(200);

    const granted = await createTenant({ planOverrides: { features: { exports: true } } });
    const { token: grantedToken } = await memberWithToken(granted, 'admin');
    expect((await exportAudit(granted, grantedToken, '')).status).toBe(200);

    const pro = await createTenant({ plan: 'pro' });
    const { token: organizer } = await memberWithToken(pro, 'organizer');
    expect((await exportAudit(pro, organizer, '')).status).toBe(403);
    expect((await exportAudit(pro, organizer, '?format=xml')).status).toBe(403);
    const { token: admin } = await memberWithToken(pro, 'admin');
    expect((await exportAudit(pro, admin, '?format=xml')).status).toBe(400);
  });

  it('refuses more rows than the cap before streaming, in one round trip, and streams exactly the cap', async () => {
    const { tenant, token } = await auditor();
    // MAX_EXPORT_ROWS + 1 rows in one statement, one millisecond apart from BASE + 1 ms on.
    await database().execute(sql`
      insert into audit_logs (organization_id, actor_type, action, target_type, target_id, created_at)
      select ${tenant.organization.id}::uuid, 'user', 'bulk.seeded', 'booking', 'b-' || g,
             ${new Date(BASE).toISOString()}::timestamptz + g * interval '1 millisecond'
        from generate_series(1, ${MAX_EXPORT_ROWS + 1}) as g`);

    // The first request of a member reads the tenant and the member from the database; later ones from the cache.
    expect((await list(tenant, token, '?limit=1')).status).toBe(200);
    for (const format of ['csv', 'json']) {
      const id = newRequestId();
      const refused = await call(tenant, 'GET', `/api/v1/audit-logs/export?format=${format}`, {
        token,
        headers: { 'x-request-id': id },
      });
      expect(refused.status).toBe(422);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.headers.get('content-disposition')).toBeNull();
      const body = await problem(refused);
      expect(body).toMatchObject({
        code: 'unprocessable',
        maxRows: MAX_EXPORT_ROWS,
        errors: [{ pointer: '/query/from' }],
      });
      expect(body.detail).toContain('`from`');
      // The bounded count rides in the first page's batch: no extra round trip.
      expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
    }

    // Without the oldest row exactly MAX_EXPORT_ROWS match: all of them stream, newest first.
    const from = new Date(BASE + 2).toISOString();
    const response = await exportAudit(tenant, token, `?format=csv&from=${from}`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text.length).toBeLessThanOrEqual(MAX_CSV_EXPORT);
    const lines = text.split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(MAX_EXPORT_ROWS + 2);
    expect(lines[1]).toContain(`,b-${MAX_EXPORT_ROWS + 1},`);
    expect(lines.at(-2)).toContain(',b-2,');
  }, 120_000);

  it('bounds every CSV row: the worst-case row from the column bounds fits MAX_CSV_ROW', () => {
    expect(Object.keys(AUDIT_CELL_BOUNDS)).toEqual([...CSV_COLUMNS]);
    // The per-cell bound is reached: all quotes, or a formula character then quotes.
    for (const length of [1, 2, 45, 512]) {
      expect(csvCell('"'.repeat(length))).toHaveLength(maxCsvCell(length));
      expect(csvCell(`=${'"'.repeat(length - 1)}`)).toHaveLength(maxCsvCell(length));
      expect(csvCell(`-${'x,'.repeat(length)}`.slice(0, length)).length).toBeLessThanOrEqual(maxCsvCell(length));
    }
    const quotes = (column: keyof typeof AUDIT_CELL_BOUNDS) => '"'.repeat(AUDIT_CELL_BOUNDS[column]);
    // Metadata whose JSON is exactly the bound, as many quotes as JSON allows: {"a":"\"\"...\""}.
    const metadata = { a: '"'.repeat((MAX_AUDIT_METADATA - 8) / 2) };
    expect(JSON.stringify(metadata)).toHaveLength(MAX_AUDIT_METADATA);
    const worst: AuditEntryView = {
      id: '9'.repeat(AUDIT_CELL_BOUNDS.id),
      createdAt: new Date(8.64e15).toISOString(),
      actor: { type: quotes('actor_type'), userId: quotes('actor_user_id'), apiKeyId: crypto.randomUUID() },
      action: quotes('action'),
      target: { type: quotes('target_type'), id: quotes('target_id') },
      ip: quotes('ip'),
      userAgent: quotes('user_agent'),
      requestId: quotes('request_id'),
      correlationId: quotes('correlation_id'),
      metadata,
    };
    expect(worst.createdAt).toHaveLength(AUDIT_CELL_BOUNDS.created_at);
    const line = csvLine(worst);
    expect(line.length).toBeLessThanOrEqual(MAX_CSV_ROW);
    // Only the id, the timestamp (`+275760-…`, a formula character, so apostrophe and quotes but no inner quotes)
    // and the metadata fall short of their cell bound.
    const slack = (
      [
        ['id', worst.id],
        ['created_at', worst.createdAt],
        ['metadata', JSON.stringify(metadata)],
      ] as const
    ).reduce((total, [column, value]) => total + maxCsvCell(AUDIT_CELL_BOUNDS[column]) - csvCell(value).length, 0);
    expect(csvCell(worst.createdAt)).toBe(`"'${worst.createdAt}"`);
    expect(line.length).toBe(MAX_CSV_ROW - slack);
    expect(MAX_CSV_EXPORT).toBe(CSV_COLUMNS.join(',').length + 2 + MAX_EXPORT_ROWS * MAX_CSV_ROW);
  });

  it('keeps stored rows within the bounds: trimmed at write time, clipped on export', async () => {
    const { tenant, token } = await auditor();
    const big = { note: 'x'.repeat(MAX_AUDIT_METADATA), other: 1 };
    const requestId = `trim-${crypto.randomUUID()}`;
    await auditInsert(
      database(),
      { ip: '203.0.113.7', addressKey: '203.0.113.7', userAgent: 'u'.repeat(2000), requestId, correlationId: null },
      {
        organizationId: tenant.organization.id,
        actor: { type: 'system' },
        action: 'note.added',
        target: { type: 'booking', id: 't'.repeat(500) },
        metadata: big,
      },
    );
    const [stored] = await database().select().from(auditLogs).where(eq(auditLogs.requestId, requestId));
    expect(stored?.metadata).toEqual({ truncated: true, length: JSON.stringify(big).length, keys: ['note', 'other'] });
    expect(stored?.userAgent).toHaveLength(AUDIT_CELL_BOUNDS.user_agent);
    expect(stored?.targetId).toHaveLength(AUDIT_CELL_BOUNDS.target_id);

    // A row written around the bounds (by hand, or before they existed) is clipped when read.
    await insertRows(tenant, [
      {
        at: 1,
        action: 'note.added',
        userAgent: '"'.repeat(3000),
        correlationId: '='.repeat(300),
        metadata: { huge: '"'.repeat(10_000) },
      },
    ]);
    const csv = await (await exportAudit(tenant, token, '?format=csv')).text();
    const lines = csv.split('\r\n').slice(1, -1);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.length + 2).toBeLessThanOrEqual(MAX_CSV_ROW);
    const exported: Entry[] = await (await exportAudit(tenant, token, '?format=json')).json();
    const handMade = exported.find((entry) => entry.requestId === null);
    expect(handMade?.userAgent).toHaveLength(AUDIT_CELL_BOUNDS.user_agent);
    expect(handMade?.correlationId).toHaveLength(AUDIT_CELL_BOUNDS.correlation_id);
    expect(handMade?.metadata).toMatchObject({ truncated: true, keys: ['huge'] });
  });
});
