import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { bookings, discountCodes } from '../../src/db/schema/index.ts';
import { randomIp, waitForAudits } from '../support/auth.ts';
import { bookingRow, checkout, counters, enableManualPayment, type CheckoutBody } from '../support/bookings.ts';
import { createEvent, createTicketType, daysFromNow } from '../support/catalogue.ts';
import { runCron } from '../support/cron.ts';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

interface Quote {
  currency: string;
  subtotal: number;
  discount: number;
  total: number;
  discountCode: string | null;
}

interface Booking {
  id: string;
  status: string;
  total: number;
  currency: string;
  discount: { code: string; amount: number } | null;
}

async function setup() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const standard = await createTicketType(event, { name: 'Standard', price: 2000, quantity: 500, maxPerOrder: 20 });
  const vip = await createTicketType(event, { name: 'VIP', price: 5000, quantity: 500, maxPerOrder: 20 });
  return { tenant, token, event, standard, vip };
}

function createCode(tenant: TestTenant, token: string, eventId: string, body: Record<string, unknown>) {
  return call(tenant, 'POST', `/api/v1/events/${eventId}/discount-codes`, { token, body });
}

async function code(tenant: TestTenant, token: string, eventId: string, body: Record<string, unknown>) {
  const response = await createCode(tenant, token, eventId, body);
  if (response.status !== 201) throw new Error(`create answered ${response.status}: ${await response.text()}`);
  return response.json<{ id: string; code: string }>();
}

function quote(
  tenant: TestTenant,
  slug: string,
  body: Record<string, unknown>,
  options: { ip?: string; headers?: Record<string, string> } = {},
) {
  return request(tenant.url(`/api/v1/public/events/${slug}/quote`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': options.ip ?? randomIp(), ...options.headers },
    body: JSON.stringify(body),
  });
}

let buyerNumber = 0;
function buyer() {
  buyerNumber += 1;
  return { name: 'Buyer', email: `buyer-${buyerNumber}-${crypto.randomUUID().slice(0, 6)}@example.com` };
}

async function booked(tenant: TestTenant, slug: string, body: CheckoutBody): Promise<Booking> {
  const response = await checkout(tenant, slug, { buyer: buyer(), ...body });
  if (response.status !== 201) throw new Error(`checkout answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** The code's `uses` as the staff list shows them. */
async function usesOf(tenant: TestTenant, token: string, eventId: string, codeId: string): Promise<number> {
  const response = await call(tenant, 'GET', `/api/v1/events/${eventId}/discount-codes`, { token });
  expect(response.status).toBe(200);
  const { data } = await response.json<{ data: { id: string; uses: number }[] }>();
  const found = data.find((entry) => entry.id === codeId);
  if (found === undefined) throw new Error('the code is not listed');
  return found.uses;
}

async function refusedCode(response: Response) {
  expect(response.status).toBe(422);
  const body = await problem(response);
  expect(body).toMatchObject({
    code: 'discount_code_invalid',
    detail: 'This discount code cannot be applied to this order.',
    errors: [{ pointer: '/body/discountCode', message: 'not applicable' }],
  });
}

describe('staff discount codes', () => {
  it('creates (upper-cased, audited), lists, refuses duplicates and bad input with pointers, deletes', async () => {
    const { tenant, token, event, vip } = await setup();
    const created = await createCode(tenant, token, event.id, {
      code: 'early26',
      kind: 'percent',
      percent: 20,
      ticketTypeIds: [vip.id],
      maxUses: 5,
      maxPerBuyer: 1,
    });
    expect(created.status).toBe(201);
    const body = await created.json<{ id: string }>();
    expect(body).toMatchObject({
      code: 'EARLY26',
      kind: 'percent',
      percent: 20,
      amounts: {},
      ticketTypeIds: [vip.id],
      unlocksHidden: false,
      minQuantity: 1,
      maxUses: 5,
      maxPerBuyer: 1,
      uses: 0,
    });
    const [audit] = await waitForAudits(tenant.organization.id, 'discount_code.created');
    expect(audit).toMatchObject({ targetType: 'discount_code', targetId: body.id });

    const duplicate = await createCode(tenant, token, event.id, {
      code: 'Early26',
      kind: 'fixed',
      amounts: { EUR: 1 },
    });
    expect(duplicate.status).toBe(409);

    const cases: [Record<string, unknown>, string][] = [
      [{ code: 'NOPCT1', kind: 'percent' }, '/body/percent'],
      [{ code: 'NOAMT1', kind: 'fixed' }, '/body/amounts'],
      [{ code: 'BOTH01', kind: 'fixed', amounts: { EUR: 5 }, percent: 5 }, '/body/percent'],
      [{ code: 'PCT101', kind: 'percent', percent: 101 }, '/body/percent'],
      [{ code: 'a b', kind: 'percent', percent: 5 }, '/body/code'],
      [{ code: 'CUR001', kind: 'fixed', amounts: { eur: 5 } }, '/body/amounts'],
      [
        {
          code: 'WIN001',
          kind: 'percent',
          percent: 5,
          startsAt: daysFromNow(2).toISOString(),
          endsAt: daysFromNow(1).toISOString(),
        },
        '/body/endsAt',
      ],
      [{ code: 'TT0001', kind: 'percent', percent: 5, ticketTypeIds: [crypto.randomUUID()] }, '/body/ticketTypeIds'],
      [{ code: 'UNL001', kind: 'percent', percent: 5, unlocksHidden: true }, '/body/ticketTypeIds'],
      [{ code: 'EXTRA1', kind: 'percent', percent: 5, uses: 3 }, '/body'],
    ];
    for (const [input, pointer] of cases) {
      const response = await createCode(tenant, token, event.id, input);
      expect(response.status, JSON.stringify(input)).toBe(400);
      const refusal = await problem(response);
      expect(refusal.errors?.map((error) => error.pointer).some((p) => p.startsWith(pointer))).toBe(true);
    }

    const list = await call(tenant, 'GET', `/api/v1/events/${event.id}/discount-codes`, { token });
    expect(list.status).toBe(200);
    expect((await list.json<{ data: { code: string }[] }>()).data.map((row) => row.code)).toEqual(['EARLY26']);

    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect(
      (await createCode(tenant, memberToken, event.id, { code: 'MEMBER', kind: 'percent', percent: 5 })).status,
    ).toBe(403);

    const removed = await call(tenant, 'DELETE', `/api/v1/discount-codes/${body.id}`, { token });
    expect(removed.status).toBe(204);
    await waitForAudits(tenant.organization.id, 'discount_code.deleted');
    expect((await call(tenant, 'DELETE', `/api/v1/discount-codes/${body.id}`, { token })).status).toBe(404);
  });

  it('changes a code (checked as a whole, audited, 1 round trip); the change applies to the next checkout', async () => {
    const { tenant, token, event, standard, vip } = await setup();
    const created = await code(tenant, token, event.id, { code: 'SPRING', kind: 'percent', percent: 10, maxUses: 1 });
    const fixed = await code(tenant, token, event.id, { code: 'FLAT5', kind: 'fixed', amounts: { EUR: 500 } });
    const patch = (id: string, body: unknown, headers: Record<string, string> = {}) =>
      call(tenant, 'PATCH', `/api/v1/discount-codes/${id}`, { token, body, headers });
    const items = [{ ticketTypeId: standard.id, quantity: 1 }];
    await booked(tenant, event.slug, { items, discountCode: 'spring' });
    await refusedCode(await checkout(tenant, event.slug, { buyer: buyer(), items, discountCode: 'spring' }));

    const requestId = newRequestId();
    const changed = await patch(
      created.id,
      { percent: 50, maxUses: 2, endsAt: daysFromNow(3).toISOString(), ticketTypeIds: [standard.id] },
      { 'x-request-id': requestId },
    );
    expect(changed.status).toBe(200);
    const after = await changed.json<{ endsAt: string | null }>();
    expect(after).toMatchObject({
      code: 'SPRING',
      kind: 'percent',
      percent: 50,
      maxUses: 2,
      uses: 1,
      ticketTypeIds: [standard.id],
    });
    expect(after.endsAt).not.toBeNull();
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const [audit] = await waitForAudits(tenant.organization.id, 'discount_code.updated');
    expect(audit).toMatchObject({ targetId: created.id });
    expect((audit?.metadata as { fields: string[] }).fields.sort()).toEqual([
      'endsAt',
      'maxUses',
      'percent',
      'ticketTypeIds',
    ]);
    // The next buyer gets the new terms: 50% off the standard ticket only.
    const next = await booked(tenant, event.slug, {
      items: [...items, { ticketTypeId: vip.id, quantity: 1 }],
      discountCode: 'spring',
    });
    expect(next).toMatchObject({ total: 1000 + 5000, discount: { code: 'SPRING', amount: 1000 } });
    // The changed code is checked as a whole: a start after the stored end is refused.
    const late = await patch(created.id, { startsAt: daysFromNow(5).toISOString() });
    expect(late.status).toBe(400);
    expect((await problem(late)).errors).toEqual([
      { pointer: '/body/endsAt', message: 'endsAt must be after startsAt' },
    ]);
    // null clears: no end, no limit.
    const cleared = await patch(created.id, { endsAt: null, maxUses: null });
    expect(await cleared.json()).toMatchObject({ endsAt: null, maxUses: null, uses: 2 });

    const refusals: [string, Record<string, unknown>, string][] = [
      [created.id, { amounts: { EUR: 100 } }, '/body/amounts'],
      [fixed.id, { percent: 20 }, '/body/percent'],
      [fixed.id, { amounts: {} }, '/body/amounts'],
      [created.id, { startsAt: daysFromNow(5).toISOString(), endsAt: daysFromNow(4).toISOString() }, '/body/endsAt'],
      [created.id, { unlocksHidden: true, ticketTypeIds: [] }, '/body/ticketTypeIds'],
      [created.id, { ticketTypeIds: [crypto.randomUUID()] }, '/body/ticketTypeIds'],
      [created.id, { code: 'OTHER1' }, '/body'],
      [created.id, { kind: 'fixed' }, '/body'],
      [created.id, {}, '/body'],
    ];
    for (const [id, body, pointer] of refusals) {
      const response = await patch(id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const refusal = await problem(response);
      expect(refusal.errors?.map((error) => error.pointer).some((p) => p.startsWith(pointer))).toBe(true);
    }
    // With the end cleared, a start alone is fine.
    expect((await patch(created.id, { startsAt: daysFromNow(1).toISOString() })).status).toBe(200);
    expect((await patch(crypto.randomUUID(), { maxUses: 3 })).status).toBe(404);
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    const forbidden = await call(tenant, 'PATCH', `/api/v1/discount-codes/${created.id}`, {
      token: memberToken,
      body: { maxUses: 3 },
    });
    expect(forbidden.status).toBe(403);
    const [row] = await database().select().from(discountCodes).where(eq(discountCodes.id, fixed.id));
    expect(row).toMatchObject({ kind: 'fixed', percent: null, amounts: { EUR: 500 } });
  });

  it("answers 404 for another organization's event and code, and changes nothing", async () => {
    const mine = await setup();
    const other = await setup();
    const theirs = await code(other.tenant, other.token, other.event.id, {
      code: 'THEIRS',
      kind: 'percent',
      percent: 5,
    });
    expect(
      (await createCode(mine.tenant, mine.token, other.event.id, { code: 'X12', kind: 'percent', percent: 5 })).status,
    ).toBe(404);
    expect(
      (await call(mine.tenant, 'GET', `/api/v1/events/${other.event.id}/discount-codes`, { token: mine.token })).status,
    ).toBe(404);
    expect(
      (await call(mine.tenant, 'DELETE', `/api/v1/discount-codes/${theirs.id}`, { token: mine.token })).status,
    ).toBe(404);
    expect(
      (
        await call(mine.tenant, 'PATCH', `/api/v1/discount-codes/${theirs.id}`, {
          token: mine.token,
          body: { percent: 100 },
        })
      ).status,
    ).toBe(404);
    const [row] = await database().select().from(discountCodes).where(eq(discountCodes.id, theirs.id));
    expect(row).toMatchObject({ code: 'THEIRS', percent: 5 });
    // Their code does not apply to my event either.
    await refusedCode(
      await checkout(mine.tenant, mine.event.slug, {
        items: [{ ticketTypeId: mine.standard.id, quantity: 1 }],
        discountCode: 'theirs',
      }),
    );
  });
});

describe('discounts at checkout and in the quote', () => {
  it('percent off the whole order: quote equals checkout, case-insensitive, stored, 1 DB + 1 Redis each', async () => {
    const { tenant, token, event, standard, vip } = await setup();
    const created = await code(tenant, token, event.id, { code: 'TENOFF', kind: 'percent', percent: 10 });
    const items = [
      { ticketTypeId: standard.id, quantity: 2 },
      { ticketTypeId: vip.id, quantity: 1 },
    ];
    const quoteId = newRequestId();
    const quoted = await quote(
      tenant,
      event.slug,
      { items, discountCode: 'tenoff' },
      { headers: { 'x-request-id': quoteId } },
    );
    expect(quoted.status).toBe(200);
    const price = await quoted.json<Quote>();
    expect(price).toMatchObject({
      currency: 'EUR',
      subtotal: 9000,
      discount: 900,
      total: 8100,
      discountCode: 'TENOFF',
    });
    expect(await roundTrips(quoteId)).toEqual({ database: 1, redis: 1 });

    const checkoutId = newRequestId();
    const response = await checkout(
      tenant,
      event.slug,
      { buyer: buyer(), items, discountCode: 'TenOff' },
      { headers: { 'x-request-id': checkoutId } },
    );
    expect(response.status).toBe(201);
    const booking = await response.json<Booking>();
    expect(booking).toMatchObject({ status: 'pending', total: price.total, discount: { code: 'TENOFF', amount: 900 } });
    expect(await roundTrips(checkoutId)).toEqual({ database: 1, redis: 1 });
    expect(await bookingRow(tenant, booking.id)).toMatchObject({
      total: 8100,
      discountCodeId: created.id,
      discountCode: 'TENOFF',
      discountAmount: 900,
    });
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(1);
    // Without a code, nothing changes.
    const plain = await booked(tenant, event.slug, { items });
    expect(plain).toMatchObject({ total: 9000, discount: null });
  });

  it('fixed amounts per currency: capped at the order (a free, confirmed booking); another currency refused', async () => {
    const { tenant, token, event, standard } = await setup();
    await code(tenant, token, event.id, { code: 'FIVEOFF', kind: 'fixed', amounts: { EUR: 500, USD: 600 } });
    await code(tenant, token, event.id, { code: 'BIGOFF', kind: 'fixed', amounts: { EUR: 100000 } });
    const usdEvent = await createEvent(tenant);
    const usd = await createTicketType(usdEvent, { price: 1000, currency: 'USD' });
    await code(tenant, token, usdEvent.id, { code: 'EURONLY', kind: 'fixed', amounts: { EUR: 500 } });
    await code(tenant, token, usdEvent.id, { code: 'FIVEOFF', kind: 'fixed', amounts: { USD: 600 } });

    const five = await booked(tenant, event.slug, {
      items: [{ ticketTypeId: standard.id, quantity: 1 }],
      discountCode: 'fiveoff',
    });
    expect(five).toMatchObject({ total: 1500, discount: { code: 'FIVEOFF', amount: 500 } });
    const big = await booked(tenant, event.slug, {
      items: [{ ticketTypeId: standard.id, quantity: 2 }],
      discountCode: 'bigoff',
    });
    expect(big).toMatchObject({ status: 'confirmed', total: 0, discount: { amount: 4000 } });
    const dollars = await booked(tenant, usdEvent.slug, {
      items: [{ ticketTypeId: usd.id, quantity: 1 }],
      discountCode: 'FIVEOFF',
    });
    expect(dollars).toMatchObject({ currency: 'USD', total: 400, discount: { amount: 600 } });
    await refusedCode(
      await checkout(tenant, usdEvent.slug, {
        items: [{ ticketTypeId: usd.id, quantity: 1 }],
        discountCode: 'EURONLY',
      }),
    );
    await refusedCode(
      await quote(tenant, usdEvent.slug, { items: [{ ticketTypeId: usd.id, quantity: 1 }], discountCode: 'EURONLY' }),
    );
  });

  it('a code that brings a paid order to 0 books it as free where no payment method is set up', async () => {
    // No manual payment, no Stripe: paid orders are refused, comp codes still work.
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { name: 'Standard', price: 2000 });
    await code(tenant, token, event.id, { code: 'COMP', kind: 'percent', percent: 100 });
    await code(tenant, token, event.id, { code: 'HALF', kind: 'percent', percent: 50 });

    const unpaid = await checkout(tenant, event.slug, {
      buyer: buyer(),
      items: [{ ticketTypeId: paid.id, quantity: 1 }],
    });
    expect(unpaid.status).toBe(422);
    expect(await problem(unpaid)).toMatchObject({
      detail: 'This organization accepts no payment method for paid tickets.',
    });
    const half = await checkout(tenant, event.slug, {
      buyer: buyer(),
      items: [{ ticketTypeId: paid.id, quantity: 1 }],
      discountCode: 'HALF',
    });
    expect(half.status).toBe(422);
    expect(await problem(half)).toMatchObject({
      detail: 'This organization accepts no payment method for paid tickets.',
    });

    const comp = await booked(tenant, event.slug, {
      items: [{ ticketTypeId: paid.id, quantity: 2 }],
      discountCode: 'comp',
    });
    expect(comp).toMatchObject({ status: 'confirmed', total: 0, discount: { code: 'COMP', amount: 4000 } });
    const row = await bookingRow(tenant, comp.id);
    expect(row).toMatchObject({ status: 'confirmed', provider: 'free', total: 0 });
    expect(await counters(event.id)).toMatchObject({ event: { sold: 2, held: 0 } });
    // Staff see the code and what it took off, as the checkout answered.
    const view = await call(tenant, 'GET', `/api/v1/bookings/${comp.id}`, { token });
    expect(await view.json()).toMatchObject({ total: 0, discount: { code: 'COMP', amount: 4000 } });
  });

  it('per ticket type with a minimum quantity: only eligible items are discounted', async () => {
    const { tenant, token, event, standard, vip } = await setup();
    await code(tenant, token, event.id, {
      code: 'VIPPAIR',
      kind: 'percent',
      percent: 50,
      ticketTypeIds: [vip.id],
      minQuantity: 2,
    });
    const tooFew = {
      items: [
        { ticketTypeId: vip.id, quantity: 1 },
        { ticketTypeId: standard.id, quantity: 3 },
      ],
      discountCode: 'vippair',
    };
    await refusedCode(await quote(tenant, event.slug, tooFew));
    await refusedCode(await checkout(tenant, event.slug, tooFew));
    const enough = {
      items: [
        { ticketTypeId: vip.id, quantity: 2 },
        { ticketTypeId: standard.id, quantity: 1 },
      ],
      discountCode: 'VIPPAIR',
    };
    const price = await (await quote(tenant, event.slug, enough)).json<Quote>();
    expect(price).toMatchObject({ subtotal: 12000, discount: 5000, total: 7000 });
    expect(await booked(tenant, event.slug, enough)).toMatchObject({ total: 7000, discount: { amount: 5000 } });
    expect(await counters(event.id)).toMatchObject({ event: { held: 3 } });
  });

  it('unknown, not yet valid and expired codes get the same answer, and nothing is written', async () => {
    const { tenant, token, event, standard } = await setup();
    await code(tenant, token, event.id, {
      code: 'LATER',
      kind: 'percent',
      percent: 5,
      startsAt: daysFromNow(1).toISOString(),
    });
    await code(tenant, token, event.id, {
      code: 'GONE',
      kind: 'percent',
      percent: 5,
      endsAt: new Date(Date.now() - 60_000).toISOString(),
    });
    for (const discountCode of ['NOSUCH', 'later', 'gone']) {
      await refusedCode(
        await checkout(tenant, event.slug, { items: [{ ticketTypeId: standard.id, quantity: 1 }], discountCode }),
      );
      await refusedCode(
        await quote(tenant, event.slug, { items: [{ ticketTypeId: standard.id, quantity: 1 }], discountCode }),
      );
    }
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 0 } });
  });

  it('per-buyer limit by buyer email', async () => {
    const { tenant, token, event, standard } = await setup();
    await code(tenant, token, event.id, { code: 'ONCEEACH', kind: 'percent', percent: 10, maxPerBuyer: 1 });
    const first = buyer();
    const body = { items: [{ ticketTypeId: standard.id, quantity: 1 }], discountCode: 'onceeach' };
    expect((await checkout(tenant, event.slug, { ...body, buyer: first })).status).toBe(201);
    await refusedCode(
      await checkout(tenant, event.slug, { ...body, buyer: { ...first, email: first.email.toUpperCase() } }),
    );
    expect((await checkout(tenant, event.slug, { ...body, buyer: buyer() })).status).toBe(201);
  });

  it('a code with unlocksHidden unlocks its hidden ticket types (the access-code check), others stay hidden', async () => {
    const { tenant, token, event } = await setup();
    const hidden = await createTicketType(event, { name: 'Press', price: 1000, hidden: true, accessCode: 'PRESS26' });
    await code(tenant, token, event.id, {
      code: 'PRESSPASS',
      kind: 'percent',
      percent: 100,
      ticketTypeIds: [hidden.id],
      unlocksHidden: true,
    });
    await code(tenant, token, event.id, { code: 'NOUNLOCK', kind: 'percent', percent: 10, ticketTypeIds: [hidden.id] });
    const items = [{ ticketTypeId: hidden.id, quantity: 1 }];
    const unlocked = await booked(tenant, event.slug, { items, discountCode: 'presspass' });
    expect(unlocked).toMatchObject({ status: 'confirmed', total: 0, discount: { amount: 1000 } });
    const locked = await checkout(tenant, event.slug, { items, discountCode: 'NOUNLOCK' });
    expect(locked.status).toBe(400);
    expect((await problem(locked)).errors).toEqual([
      { pointer: '/body/items/0/ticketTypeId', message: 'no such ticket type for this event' },
    ]);
    expect((await quote(tenant, event.slug, { items, discountCode: 'NOUNLOCK' })).status).toBe(400);
    expect((await quote(tenant, event.slug, { items, accessCode: 'PRESS26', discountCode: 'NOUNLOCK' })).status).toBe(
      200,
    );
  });

  it('bad input answers 400 with the JSON pointer', async () => {
    const { tenant, event, standard } = await setup();
    const badCode = await checkout(tenant, event.slug, {
      items: [{ ticketTypeId: standard.id, quantity: 1 }],
      discountCode: 'a b',
    });
    expect(badCode.status).toBe(400);
    expect((await problem(badCode)).errors?.[0]?.pointer).toBe('/body/discountCode');
    const cases: [Record<string, unknown>, string][] = [
      [{ items: [] }, '/body/items'],
      [{ items: [{ ticketTypeId: standard.id, quantity: 0 }] }, '/body/items/0/quantity'],
      [{ items: [{ ticketTypeId: 'nope', quantity: 1 }] }, '/body/items/0/ticketTypeId'],
      [{ items: [{ ticketTypeId: standard.id, quantity: 1 }], discountCode: 'x'.repeat(41) }, '/body/discountCode'],
      [
        {
          items: [
            { ticketTypeId: standard.id, quantity: 1 },
            { ticketTypeId: standard.id, quantity: 1 },
          ],
        },
        '/body/items/1/ticketTypeId',
      ],
      [{ items: [{ ticketTypeId: crypto.randomUUID(), quantity: 1 }] }, '/body/items/0/ticketTypeId'],
    ];
    for (const [body, pointer] of cases) {
      const response = await quote(tenant, event.slug, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await problem(response)).errors?.[0]?.pointer).toBe(pointer);
    }
    expect((await quote(tenant, 'no-such-event', { items: [{ ticketTypeId: standard.id, quantity: 1 }] })).status).toBe(
      404,
    );
  });

  it('rate limits guessing: after 10 failed codes from one address, requests with a code answer 429', async () => {
    const { tenant, token, event, standard } = await setup();
    await code(tenant, token, event.id, { code: 'REALONE', kind: 'percent', percent: 10 });
    const ip = randomIp();
    const items = [{ ticketTypeId: standard.id, quantity: 1 }];
    for (let guess = 0; guess < 10; guess += 1) {
      const response =
        guess % 2 === 0
          ? await quote(tenant, event.slug, { items, discountCode: `GUESS${guess}` }, { ip })
          : await checkout(tenant, event.slug, { items, discountCode: `GUESS${guess}` }, { ip });
      expect(response.status).toBe(422);
    }
    const limited = await quote(tenant, event.slug, { items, discountCode: 'REALONE' }, { ip });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).not.toBeNull();
    expect((await checkout(tenant, event.slug, { items, discountCode: 'REALONE' }, { ip })).status).toBe(429);
    // Without a code the address is not affected; another address can still use the code.
    expect((await quote(tenant, event.slug, { items }, { ip })).status).toBe(200);
    expect((await quote(tenant, event.slug, { items, discountCode: 'REALONE' })).status).toBe(200);
  });
});

describe('uses given back', () => {
  it('a cancelled, an expired and a fully refunded booking each give their use back; a partial refund does not', async () => {
    const { tenant, token, event, standard } = await setup();
    const created = await code(tenant, token, event.id, { code: 'ONCE', kind: 'percent', percent: 10, maxUses: 1 });
    const items = [{ ticketTypeId: standard.id, quantity: 2 }];
    const first = await booked(tenant, event.slug, { items, discountCode: 'once' });
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(1);
    await refusedCode(await checkout(tenant, event.slug, { buyer: buyer(), items, discountCode: 'once' }));

    // Staff cancel the pending booking: the use comes back and the next buyer gets the code.
    expect((await call(tenant, 'POST', `/api/v1/bookings/${first.id}/cancel`, { token })).status).toBe(200);
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(0);
    const second = await booked(tenant, event.slug, { items, discountCode: 'once' });
    expect(second.discount).toEqual({ code: 'ONCE', amount: 400 });

    // The hold lapses and the sweep expires it: the use comes back again.
    await database()
      .update(bookings)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(and(eq(bookings.organizationId, tenant.organization.id), eq(bookings.id, second.id)));
    await runCron();
    expect(await bookingRow(tenant, second.id)).toMatchObject({ status: 'expired' });
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(0);

    // Confirmed and refunded in part: still a use. Refunded in full: given back.
    const third = await booked(tenant, event.slug, { items, discountCode: 'once' });
    expect((await call(tenant, 'POST', `/api/v1/bookings/${third.id}/confirm`, { token })).status).toBe(200);
    const refund = (body: Record<string, unknown>) =>
      call(tenant, 'POST', `/api/v1/bookings/${third.id}/refund`, { token, body });
    expect((await refund({ amount: 1000 })).status).toBe(201);
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(1);
    await refusedCode(await checkout(tenant, event.slug, { buyer: buyer(), items, discountCode: 'once' }));
    expect((await refund({ amount: third.total - 1000 })).status).toBe(201);
    expect(await bookingRow(tenant, third.id)).toMatchObject({ status: 'refunded' });
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(0);
    expect((await booked(tenant, event.slug, { items, discountCode: 'once' })).discount?.code).toBe('ONCE');
  });
});

describe('a code at its limit under concurrency', () => {
  it('100 concurrent buyers for a 10-use code: exactly 10 succeed, 90 get discount_code_invalid, seats agree', async () => {
    const { tenant, token, event, standard } = await setup();
    const created = await code(tenant, token, event.id, { code: 'TENONLY', kind: 'percent', percent: 25, maxUses: 10 });
    await checkout(tenant, event.slug, { items: [] });
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        checkout(tenant, event.slug, {
          buyer: buyer(),
          items: [{ ticketTypeId: standard.id, quantity: 1 }],
          discountCode: 'tenonly',
        }),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(statuses.filter((status) => status === 422)).toHaveLength(90);
    const refusals = await Promise.all(responses.filter((response) => response.status === 422).map(problem));
    expect(new Set(refusals.map((body) => body.code))).toEqual(new Set(['discount_code_invalid']));
    const bookingsMade = await Promise.all(
      responses.filter((response) => response.status === 201).map((response) => response.json<Booking>()),
    );
    expect(bookingsMade.every((booking) => booking.total === 1500 && booking.discount?.amount === 500)).toBe(true);
    expect(await usesOf(tenant, token, event.id, created.id)).toBe(10);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 10 },
      ticketTypes: { [standard.id]: { sold: 0, held: 10 } },
    });
  });
});
