import { NeonDbError } from '@neondatabase/serverless';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, bookings, events } from '../../src/db/schema/index.ts';
import { inputDataException } from '../../src/errors/handler.ts';
import { checkout } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import { eventBody } from '../support/events.ts';
import { bearer, createTenant, database, problem, request, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

/** The two characters PostgreSQL text and UTF-8 cannot carry, as a JS string and as a client percent-encodes them. */
const HOSTILE = [
  { name: 'NUL', text: 'a\u0000b', encoded: 'a%00b' },
  // A lone high surrogate: JSON escapes it as \ud800; in a URL it can only arrive as its (invalid) UTF-8 bytes.
  { name: 'a lone surrogate', text: 'a\ud800b', encoded: 'a%ED%A0%80b' },
] as const;

async function expectRefused(response: Response, pointer: string): Promise<void> {
  expect(response.status).toBe(400);
  const body = await problem(response);
  expect(body.code).toBe('validation_failed');
  // Compared as JSON: a failure message holding a lone surrogate would break the test runner's channel.
  expect(JSON.stringify(body.errors?.map((error) => error.pointer))).toBe(JSON.stringify([pointer]));
}

async function eventCount(tenant: TestTenant): Promise<number> {
  return (await database().select().from(events).where(eq(events.organizationId, tenant.organization.id))).length;
}

async function bookingCount(tenant: TestTenant): Promise<number> {
  return (await database().select().from(bookings).where(eq(bookings.organizationId, tenant.organization.id))).length;
}

async function auditCount(tenant: TestTenant): Promise<number> {
  return (await database().select().from(auditLogs).where(eq(auditLogs.organizationId, tenant.organization.id))).length;
}

async function onSaleEvent(tenant: TestTenant) {
  const event = await createEvent(tenant);
  const ticketType = await createTicketType(event, { price: 0 });
  return { event, ticketType };
}

describe.each(HOSTILE)('$name in any text input', ({ text, encoded }) => {
  it('answers 400 pointing at a multi-line body field, and creates nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const body = eventBody({ description: `Line one\n${text}` });
    const response = await call(tenant, 'POST', '/api/v1/events', { token, body });
    await expectRefused(response, '/body/description');
    expect(await eventCount(tenant)).toBe(0);
    expect(await auditCount(tenant)).toBe(0);
  });

  it('answers 400 pointing at a nested body key, and creates nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const body = eventBody({ venue: { name: 'Hall', [`ci${text}ty`]: 'Lisbon' } });
    const response = await call(tenant, 'POST', '/api/v1/events', { token, body });
    await expectRefused(response, `/body/venue/ci${text}ty`);
    expect(await eventCount(tenant)).toBe(0);
  });

  it('answers 400 pointing at a query parameter', async () => {
    const tenant = await createTenant();
    await expectRefused(await getPublic(tenant, `/api/v1/public/events?q=${encoded}`), '/query/q');
  });

  it('answers 400 pointing at a path segment', async () => {
    const tenant = await createTenant();
    await expectRefused(await getPublic(tenant, `/api/v1/public/events/${encoded}`), '/param/slug');
  });

  it("answers 400 for the public event's accessCode", async () => {
    const tenant = await createTenant();
    const { event } = await onSaleEvent(tenant);
    const response = await getPublic(tenant, `/api/v1/public/events/${event.slug}?accessCode=${encoded}`);
    await expectRefused(response, '/query/accessCode');
  });

  it('answers 400 for checkout answers, and books nothing', async () => {
    const tenant = await createTenant();
    const { event, ticketType } = await onSaleEvent(tenant);
    const response = await checkout(tenant, event.slug, {
      items: [{ ticketTypeId: ticketType.id, quantity: 1 }],
      answers: { dietary: text },
    });
    await expectRefused(response, '/body/answers/dietary');
    expect(await bookingCount(tenant)).toBe(0);
    expect(await auditCount(tenant)).toBe(0);
  });

  it("answers 400 for the audit export's query before streaming anything", async () => {
    const tenant = await createTenant({ planOverrides: { features: { exports: true } } });
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await call(tenant, 'GET', `/api/v1/audit-logs/export?targetId=${encoded}`, { token });
    await expectRefused(response, '/query/targetId');
    expect(await auditCount(tenant)).toBe(0);
  });
});

describe('malformed percent-encoding', () => {
  it('answers 400 in a query parameter', async () => {
    const tenant = await createTenant();
    await expectRefused(await getPublic(tenant, '/api/v1/public/events?q=%E2%28'), '/query/q');
  });

  it('answers 400 in a path segment', async () => {
    const tenant = await createTenant();
    await expectRefused(await getPublic(tenant, '/api/v1/public/events/%zz'), '/param/slug');
  });
});

describe('deeply nested bodies', () => {
  it('answers 400, never 500, for a body nested 100,000 levels deep, with NUL at the bottom or without', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const depth = 100_000;
    const send = (leaf: string) =>
      request(tenant.url('/api/v1/events'), {
        method: 'POST',
        headers: bearer(token),
        body: `{"title":${'['.repeat(depth)}${leaf}${']'.repeat(depth)}}`,
      });
    // Pointers are at most 500 characters (the Problem schema): this one names the deepest ancestor that fits.
    await expectRefused(await send('"a\\u0000b"'), `/body/title${'/0'.repeat(244)}`);
    const plain = await send('"x"');
    expect(plain.status).toBe(400);
    expect((await problem(plain)).errors?.[0]?.pointer).toBe('/body/title');
    expect(await eventCount(tenant)).toBe(0);
  });
});

describe('well-formed text', () => {
  it('passes through: escaped non-ASCII, emoji pairs and U+2028 in a body are stored as sent', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const title = 'Caf\u00e9 \ud83c\udfb7 night\u2028two';
    const response = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody({ title }) });
    expect(response.status).toBe(201);
    expect((await response.json<{ title: string }>()).title).toBe(title);
  });
});

describe('the database safety net', () => {
  function sqlError(code: string): Error {
    const error = new NeonDbError('invalid byte sequence for encoding "UTF8": 0x00');
    error.code = code;
    return new Error('Failed query', { cause: error });
  }

  it('recognises data exceptions only input can cause, anywhere in the cause chain', () => {
    for (const code of ['22021', '22P05', '22001', '22003', '22P02', '22007', '22008']) {
      expect(inputDataException(sqlError(code))).toBe(code);
    }
  });

  it('leaves other SQL errors (constraint violations, syntax) to the 500 tier', () => {
    expect(inputDataException(sqlError('23505'))).toBeUndefined();
    expect(inputDataException(sqlError('42601'))).toBeUndefined();
    expect(inputDataException(new Error('unrelated'))).toBeUndefined();
  });
});
