import { and, eq } from 'drizzle-orm';
import { bookings, events, ticketTypes, capacityPools, paymentSettings } from '../../src/db/schema/index.ts';
import type { CreatedBookingResponse } from '../../src/routes/bookings/schema.ts';
import { randomIp } from './auth.ts';
import { database, request, type TestTenant } from './harness.ts';

export interface CheckoutBody {
  buyer?: { name: string; email: string };
  items: {
    ticketTypeId: string;
    quantity: number;
    attendees?: { name: string; email: string; answers?: Record<string, unknown> }[];
  }[];
  accessCode?: string;
  paymentMethod?: 'stripe' | 'manual';
  [extra: string]: unknown;
}

const BUYER = { name: 'Ada Lovelace', email: 'ada@example.com' };

/**
 * Turns manual (offline) payment on for a tenant, as an owner would in the payment settings: it is opt-in, and the
 * tests that book paid orders without Stripe pay manually.
 */
export async function enableManualPayment(tenant: TestTenant): Promise<void> {
  await database()
    .insert(paymentSettings)
    .values({ organizationId: tenant.organization.id, manualEnabled: true })
    .onConflictDoUpdate({ target: paymentSettings.organizationId, set: { manualEnabled: true } });
}

/** POST /api/v1/public/events/{slug}/bookings from a fresh client address unless one is given. */
export function checkout(
  tenant: TestTenant,
  slug: string,
  body: CheckoutBody,
  options: { ip?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return request(tenant.url(`/api/v1/public/events/${slug}/bookings`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': options.ip ?? randomIp(), ...options.headers },
    body: JSON.stringify({ buyer: BUYER, ...body }),
  });
}

/** A checkout that must succeed (201): its body. */
export async function book(tenant: TestTenant, slug: string, body: CheckoutBody): Promise<CreatedBookingResponse> {
  const response = await checkout(tenant, slug, body);
  if (response.status !== 201) throw new Error(`checkout answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** The seat counters of an event, its ticket types and pools, straight from the database. */
export async function counters(eventId: string) {
  const db = database();
  const [[event], types, pools] = await Promise.all([
    db.select({ sold: events.sold, held: events.held }).from(events).where(eq(events.id, eventId)),
    db
      .select({ id: ticketTypes.id, sold: ticketTypes.sold, held: ticketTypes.held })
      .from(ticketTypes)
      .where(eq(ticketTypes.eventId, eventId)),
    db
      .select({ id: capacityPools.id, sold: capacityPools.sold, held: capacityPools.held })
      .from(capacityPools)
      .where(eq(capacityPools.eventId, eventId)),
  ]);
  return {
    event,
    ticketTypes: Object.fromEntries(types.map((row) => [row.id, { sold: row.sold, held: row.held }])),
    pools: Object.fromEntries(pools.map((row) => [row.id, { sold: row.sold, held: row.held }])),
  };
}

export async function bookingRow(tenant: TestTenant, id: string) {
  const [row] = await database()
    .select()
    .from(bookings)
    .where(and(eq(bookings.organizationId, tenant.organization.id), eq(bookings.id, id)));
  return row;
}
