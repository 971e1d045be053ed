import { env } from 'cloudflare:workers';
import { parse } from 'csv-parse/sync';
import { eq, sql } from 'drizzle-orm';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { mfaTotp, organizationExports, payments, refunds, webhookEndpoints } from '../../src/db/schema/index.ts';
import { signMessage } from '../../src/lib/crypto.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { route as createRoute } from '../../src/routes/exports/create.ts';
import { ExportPageSchema, ExportSchema } from '../../src/routes/exports/schema.ts';
import { EXPORT_ENTITIES } from '../../src/services/exports/entities.ts';
import { EXPORT_PART_BYTES } from '../../src/services/exports/job.ts';
import { poll, waitForMail } from '../support/auth.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { runCron } from '../support/cron.ts';
import {
  bearer,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

type ExportBody = ReturnType<typeof ExportSchema.parse>;
type CreateBody = (typeof createRoute)['request']['body']['content']['application/json']['schema']['_output'];

const bindings = () => readBindings(env as unknown as Record<string, unknown>);

/**
 * A pro tenant (the `exports` feature) with an owner, door staff, an event with two ticket types, three bookings
 * (one with two tickets), a payment and a refund, a webhook endpoint with (stand-in) encrypted secrets, a TOTP factor,
 * and audit rows; `auditRows` more audit rows make the export span several 5 MiB parts. Every secret-like value
 * carries a marker the tests scan the output for.
 */
async function setup(options: { auditRows?: number } = {}) {
  const tenant = await createTenant({ plan: 'pro' });
  const owner = await memberWithToken(tenant, 'owner');
  await memberWithToken(tenant, 'staff');
  const tag = crypto.randomUUID().slice(0, 8);
  const event = await createEvent(tenant, { title: `Export gala ${tag}` });
  const general = await createTicketType(event, { name: 'General, "standing"', price: 0 });
  const vip = await createTicketType(event, { name: '=cmd|VIP', price: 0 });
  const bookings = [
    await book(tenant, event.slug, {
      buyer: { name: `Ada ${tag}`, email: `ada.${tag}@example.com` },
      items: [{ ticketTypeId: general.id, quantity: 2 }],
    }),
    await book(tenant, event.slug, {
      buyer: { name: `Grace ${tag}`, email: `grace.${tag}@example.com` },
      items: [{ ticketTypeId: vip.id, quantity: 1 }],
    }),
    await book(tenant, event.slug, {
      buyer: { name: `Alan ${tag}`, email: `alan.${tag}@example.com` },
      items: [{ ticketTypeId: general.id, quantity: 1 }],
    }),
  ];
  const organizationId = tenant.organization.id;
  const bookingId = bookings[0]?.id ?? '';
  const db = database();
  // A free booking has its payment row already: give it what a Stripe payment carries.
  const [payment] = await db
    .update(payments)
    .set({
      checkoutSessionId: `cs_test_${tag}`,
      checkoutUrl: `https://checkout.stripe.com/c/pay/cs_test_${tag}#SECRETCHECKOUTURL${tag}`,
      paymentIntentId: `pi_${tag}`,
    })
    .where(eq(payments.bookingId, bookingId))
    .returning();
  await db.insert(refunds).values({
    organizationId,
    bookingId,
    paymentId: payment?.id ?? '',
    amount: 1,
    currency: payment?.currency ?? 'EUR',
    status: 'succeeded',
    reason: 'Customer asked',
  });
  await db.insert(webhookEndpoints).values({
    organizationId,
    url: `https://hooks.example.com/${tag}`,
    secret: `v1.SECRETWEBHOOK${tag}`,
    previousSecret: `v1.SECRETPREVIOUS${tag}`,
  });
  await db.insert(mfaTotp).values({
    organizationId,
    userId: owner.member.userId,
    secretCiphertext: `v1.SECRETTOTP${tag}`,
  });
  await db.execute(
    sql`update bookings set client_key = ${`SECRETCLIENTKEY${tag}`} where organization_id = ${organizationId}`,
  );
  if (options.auditRows !== undefined) {
    await db.execute(sql`insert into audit_logs (organization_id, actor_type, action, target_type, target_id, ip,
        user_agent, request_id, metadata)
      select ${organizationId}::uuid, 'system', 'bench.filler', 'booking', gen_random_uuid()::text, '203.0.113.7',
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        'req-' || n, jsonb_build_object('n', n, 'note', repeat('x', 200))
      from generate_series(1, ${options.auditRows}) n`);
  }
  const tokenHashes = (
    await db.execute<{ token_hash: string }>(
      sql`select token_hash from bookings where organization_id = ${organizationId}`,
    )
  ).rows.map((row) => row.token_hash);
  const secrets = [
    inject('testPasswordHash'),
    `SECRETWEBHOOK${tag}`,
    `SECRETPREVIOUS${tag}`,
    `SECRETTOTP${tag}`,
    `SECRETCHECKOUTURL${tag}`,
    `SECRETCLIENTKEY${tag}`,
    ...tokenHashes,
  ];
  return { tenant, owner, tag, secrets };
}

async function startExport(tenant: TestTenant, token: string, body: CreateBody, requestId = newRequestId()) {
  return call(tenant, 'POST', '/api/v1/exports', { token, body, headers: { 'x-request-id': requestId } });
}

async function completed(tenant: TestTenant, token: string, id: string): Promise<ExportBody> {
  return poll(
    async () => {
      const response = await call(tenant, 'GET', `/api/v1/exports/${id}`, { token });
      expect(response.status).toBe(200);
      const body = ExportSchema.parse(await response.json());
      expect(body.status).not.toBe('failed');
      return body.status === 'completed' ? body : undefined;
    },
    `export ${id} to complete`,
    60_000,
  );
}

/**
 * Every id the database holds for the organization, per entity of the export; audit entries only up to `auditUntil`
 * (the export's own and those written while it ran may or may not be in it).
 */
async function idsOf(organizationId: string, auditUntil = new Date()): Promise<Record<string, string[]>> {
  const db = database();
  const read = async (query: ReturnType<typeof sql>) =>
    (await db.execute<{ id: string }>(query)).rows.map((row) => row.id).sort();
  return {
    events: await read(sql`select id::text from events where organization_id = ${organizationId}`),
    ticketTypes: await read(sql`select id::text from ticket_types where organization_id = ${organizationId}`),
    bookings: await read(sql`select id::text from bookings where organization_id = ${organizationId}`),
    attendees: await read(sql`select id::text from attendees where organization_id = ${organizationId}`),
    payments: await read(sql`select id::text from payments where organization_id = ${organizationId}`),
    refunds: await read(sql`select id::text from refunds where organization_id = ${organizationId}`),
    members: await read(sql`select user_id::text as id from memberships where organization_id = ${organizationId}`),
    roles: await read(sql`select id::text from roles where organization_id = ${organizationId}`),
    webhookEndpoints: await read(sql`select id::text from webhook_endpoints where organization_id = ${organizationId}`),
    auditLog: await read(
      sql`select id::text from audit_logs where organization_id = ${organizationId}
        and created_at <= ${auditUntil.toISOString()}::timestamptz`,
    ),
  };
}

function idField(entity: string): string {
  return entity === 'members' ? 'userId' : 'id';
}

/**
 * The records of an entity are exactly the organization's rows: every one there was when the export was requested
 * (`expected`), and nothing that is not the organization's now (`everything`); only the audit log grows meanwhile.
 */
function expectSameIds(
  entity: string,
  records: Record<string, unknown>[],
  expected: Record<string, string[]>,
  everything: Record<string, string[]>,
): void {
  const ids = records.map((record) => String(record[idField(entity)])).sort();
  expect(new Set(ids).size, entity).toBe(ids.length);
  if (entity !== 'auditLog') {
    expect(ids, entity).toEqual(everything[entity]);
    return;
  }
  const exported = new Set(ids);
  const all = new Set(everything[entity]);
  expect(
    (expected[entity] ?? []).filter((id) => !exported.has(id)),
    `${entity} missing`,
  ).toEqual([]);
  expect(
    ids.filter((id) => !all.has(id)),
    `${entity} not the organization's`,
  ).toEqual([]);
}

async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

describe('organization export', () => {
  it('exports everything the organization owns as one JSON document through the queue, emails the requester, and nothing of another organization or any secret', async () => {
    const other = await setup();
    const { tenant, owner, secrets } = await setup({ auditRows: 9_000 });
    const requestId = newRequestId();
    const response = await startExport(tenant, owner.token, { format: 'json' }, requestId);
    expect(response.status, await response.clone().text()).toBe(202);
    const created = ExportSchema.parse(await response.json());
    expect(created).toMatchObject({ format: 'json', status: 'queued', files: [], sizeBytes: null });
    expect(response.headers.get('location')).toBe(tenant.url(`/api/v1/exports/${created.id}`));
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 2 });

    const done = await completed(tenant, owner.token, created.id);
    expect(done.progress).toEqual({
      entitiesDone: EXPORT_ENTITIES.length,
      entitiesTotal: EXPORT_ENTITIES.length,
      rowsWritten: expect.any(Number) as number,
    });
    expect(done.files).toHaveLength(1);
    const file = done.files[0];
    if (file === undefined) throw new Error('no file');
    expect(file.name).toBe('organization.json');
    // Bigger than one part: the job wrote it in several steps, each uploading a 5 MiB part.
    expect(file.sizeBytes).toBeGreaterThan(EXPORT_PART_BYTES);
    const [row] = await database().select().from(organizationExports).where(eq(organizationExports.id, created.id));
    expect(row?.step).toBeGreaterThan(1);

    const download = await request(file.url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="${tenant.organization.slug}-export-${created.id.slice(0, 8)}-organization.json"`,
    );
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = await download.arrayBuffer();
    expect(bytes.byteLength).toBe(file.sizeBytes);
    expect(await sha256Hex(bytes)).toBe(file.sha256);
    const text = new TextDecoder().decode(bytes);
    const document = JSON.parse(text) as Record<string, unknown>;
    expect(document).toMatchObject({
      format: 'eventra.organization-export',
      version: 1,
      exportId: created.id,
      organization: { id: tenant.organization.id, slug: tenant.organization.slug },
    });

    const expected = await idsOf(tenant.organization.id, new Date(created.createdAt));
    const everything = await idsOf(tenant.organization.id);
    let rows = 0;
    for (const entity of EXPORT_ENTITIES) {
      const records = document[entity.name] as Record<string, unknown>[];
      expectSameIds(entity.name, records, expected, everything);
      rows += records.length;
    }
    expect(done.progress.rowsWritten).toBe(rows);

    const foreign = await idsOf(other.tenant.organization.id);
    // Audit ids are small integers (checked above as the organization's own); every other id is a UUID.
    const { auditLog: _numbers, ...foreignUuids } = foreign;
    for (const id of [...Object.values(foreignUuids).flat(), other.tenant.organization.id, other.tag]) {
      expect(text.includes(id), `another organization's ${id}`).toBe(false);
    }
    for (const secret of secrets) expect(text.includes(secret), 'a secret').toBe(false);
    for (const field of ['secret', 'previousSecret', 'passwordHash', 'tokenHash', 'checkoutUrl', 'clientKey']) {
      expect(text.includes(`"${field}"`), field).toBe(false);
    }

    const mail = await waitForMail(owner.member.email);
    expect(mail.subject).toContain('export is ready');
    expect(mail.links).toEqual([`http://${tenant.host}/api/v1/exports/${created.id}`]);
    // More than 5 MiB through several queue steps and R2 parts: seconds of work by design, not a slow path.
  }, 90_000);

  it('exports one formula-safe CSV file per entity, each with its own signed link', async () => {
    const { tenant, owner, secrets } = await setup();
    const response = await startExport(tenant, owner.token, { format: 'csv' });
    expect(response.status).toBe(202);
    const { id } = ExportSchema.parse(await response.json());
    const done = await completed(tenant, owner.token, id);
    expect(done.files.map((file) => file.name)).toEqual(EXPORT_ENTITIES.map((entity) => `${entity.name}.csv`));
    const expected = await idsOf(tenant.organization.id, new Date(done.createdAt));
    const everything = await idsOf(tenant.organization.id);
    for (const [index, entity] of EXPORT_ENTITIES.entries()) {
      const file = done.files[index];
      if (file === undefined) throw new Error('missing file');
      const download = await request(file.url);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      const text = await download.text();
      for (const secret of secrets) expect(text.includes(secret)).toBe(false);
      const records = parse<Record<string, string>>(text, { columns: true });
      expect(Object.keys(records[0] ?? {})).toEqual(entity.fields.map(([name]) => name));
      expectSameIds(entity.name, records, expected, everything);
      expect(file.rows).toBe(records.length);
      if (entity.name === 'ticketTypes') {
        expect(records.map((record) => record.name).sort()).toEqual(["'=cmd|VIP", 'General, "standing"']);
      }
    }
  });

  it('refuses a tampered, foreign or expired download link', async () => {
    const { tenant, owner } = await setup();
    const { id } = ExportSchema.parse(await (await startExport(tenant, owner.token, { format: 'json' })).json());
    const done = await completed(tenant, owner.token, id);
    const url = new URL(done.files[0]?.url ?? '');
    const expires = Number(url.searchParams.get('expires'));

    const tamperedSignature = new URL(url);
    const signature = url.searchParams.get('signature') ?? '';
    // The first character: the last one of 43 base64url characters also carries 2 unused bits, so changing it may
    // leave the decoded signature the same.
    tamperedSignature.searchParams.set('signature', `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`);
    // The same MAC written another way: the last character with one of its 2 unused bits set.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const nonCanonical = new URL(url);
    const last = alphabet.indexOf(signature.at(-1) ?? '');
    nonCanonical.searchParams.set('signature', `${signature.slice(0, -1)}${alphabet[last ^ 1] ?? ''}`);
    const laterExpiry = new URL(url);
    laterExpiry.searchParams.set('expires', String(expires + 3600));
    const otherFile = new URL(url.toString().replace('organization.json', 'events.csv'));
    const otherTenant = await createTenant({ plan: 'pro' });
    const otherHost = new URL(url);
    otherHost.host = otherTenant.host;
    for (const link of [tamperedSignature, nonCanonical, laterExpiry, otherFile, otherHost]) {
      const response = await request(link.toString());
      expect(response.status, link.toString()).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
    const malformed = new URL(url);
    malformed.searchParams.set('signature', 'short');
    expect((await request(malformed.toString())).status).toBe(400);

    const past = Math.floor(Date.now() / 1000) - 1;
    const expired = new URL(url);
    expired.searchParams.set('expires', String(past));
    expired.searchParams.set(
      'signature',
      await signMessage(
        bindings().DATA_ENCRYPTION_KEY,
        'export_download',
        `${tenant.organization.id}\n${id}\norganization.json\n${String(past)}`,
      ),
    );
    const refused = await request(expired.toString());
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('forbidden');
    expect((await request(url.toString())).status).toBe(200);
  });

  it('answers 409 while an export of the organization is queued or running, and lists exports newest first', async () => {
    const { tenant, owner } = await setup();
    const first = ExportSchema.parse(await (await startExport(tenant, owner.token, { format: 'csv' })).json());
    await completed(tenant, owner.token, first.id);
    const [running] = await database()
      .insert(organizationExports)
      .values({
        organizationId: tenant.organization.id,
        format: 'json',
        status: 'running',
        expiresAt: new Date(Date.now() + 86_400_000),
      })
      .returning();
    const refused = await startExport(tenant, owner.token, { format: 'json' });
    expect(refused.status).toBe(409);
    expect((await problem(refused)).code).toBe('conflict');
    const count = await database()
      .select({ id: organizationExports.id })
      .from(organizationExports)
      .where(eq(organizationExports.organizationId, tenant.organization.id));
    expect(count).toHaveLength(2);

    const requestId = newRequestId();
    const list = await call(tenant, 'GET', '/api/v1/exports?limit=1', {
      token: owner.token,
      headers: { 'x-request-id': requestId },
    });
    expect(list.status).toBe(200);
    const page = ExportPageSchema.parse(await list.json());
    expect(page.data.map((item) => item.id)).toEqual([running?.id]);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const next = ExportPageSchema.parse(
      await (
        await call(tenant, 'GET', `/api/v1/exports?limit=1&cursor=${page.nextCursor ?? ''}`, { token: owner.token })
      ).json(),
    );
    expect(next.data.map((item) => item.id)).toEqual([first.id]);
    expect(next.nextCursor).toBeNull();
  });

  it('needs every permission an export reads, the exports feature, and the organization of the host', async () => {
    const { tenant, owner } = await setup();
    const organizer = await memberWithToken(tenant, 'organizer');
    const forbidden = await startExport(tenant, organizer.token, { format: 'json' });
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).code).toBe('forbidden');
    expect((await call(tenant, 'GET', '/api/v1/exports', { token: organizer.token })).status).toBe(403);

    const starter = await createTenant({ plan: 'starter' });
    const starterOwner = await memberWithToken(starter, 'owner');
    const gated = await startExport(starter, starterOwner.token, { format: 'json' });
    expect(gated.status).toBe(403);
    expect((await problem(gated)).code).toBe('feature_unavailable');

    expect((await call(tenant, 'POST', '/api/v1/exports', { body: { format: 'json' } })).status).toBe(401);
    const invalid = await startExport(tenant, owner.token, { format: 'xml' } as unknown as CreateBody);
    expect(invalid.status).toBe(400);

    const { id } = ExportSchema.parse(await (await startExport(tenant, owner.token, { format: 'json' })).json());
    const other = await createTenant({ plan: 'pro' });
    const otherOwner = await memberWithToken(other, 'owner');
    const foreign = await call(other, 'GET', `/api/v1/exports/${id}`, { token: otherOwner.token });
    expect(foreign.status).toBe(404);
    const requestId = newRequestId();
    const mine = await request(tenant.url(`/api/v1/exports/${id}`), {
      headers: bearer(owner.token, { 'x-request-id': requestId }),
    });
    expect(mine.status).toBe(200);
    expect(ExportSchema.parse(await mine.json()).id).toBe(id);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    await completed(tenant, owner.token, id);
  });

  it('deletes an expired export with its files in the scheduled sweep', async () => {
    const { tenant, owner } = await setup();
    const { id } = ExportSchema.parse(await (await startExport(tenant, owner.token, { format: 'json' })).json());
    const done = await completed(tenant, owner.token, id);
    const url = done.files[0]?.url ?? '';
    await database()
      .update(organizationExports)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(organizationExports.id, id));
    await runCron();
    expect(await database().select().from(organizationExports).where(eq(organizationExports.id, id))).toEqual([]);
    expect((await request(url)).status).toBe(404);
    expect(await bindings().FILES.list({ prefix: `exports/${tenant.organization.id}/${id}/` })).toMatchObject({
      objects: [],
    });
  });
});
