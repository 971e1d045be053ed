import { expect } from 'vitest';
import { events, ticketTypes, type Event, type TicketType } from '../../src/db/schema/index.ts';
import { database, newRequestId, randomSlug, request, roundTrips, type TestTenant } from './harness.ts';
import { randomIp } from './auth.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** An instant `days` from now (negative: in the past). */
export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * DAY);
}

/**
 * Inserts an event with the owner connection (the staff API is not needed): published, public, starting in a week
 * for two hours, unless overridden.
 */
export async function createEvent(
  tenant: TestTenant,
  overrides: Partial<typeof events.$inferInsert> = {},
): Promise<Event> {
  const startsAt = overrides.startsAt ?? daysFromNow(7);
  const [event] = await database()
    .insert(events)
    .values({
      slug: randomSlug('ev'),
      title: 'Spring Gala',
      description: 'An evening of music.',
      status: 'published',
      visibility: 'public',
      timezone: 'Europe/Lisbon',
      endsAt: new Date(startsAt.getTime() + 2 * HOUR),
      venue: { name: 'Main Hall', city: 'Lisbon', country: 'PT' },
      onlineUrl: 'https://meet.example.com/secret-room',
      categories: ['music'],
      capacity: 500,
      ...overrides,
      startsAt,
      organizationId: tenant.organization.id,
    })
    .returning();
  if (!event) throw new Error('event insert returned nothing');
  return event;
}

/** Inserts a ticket type of `event` (on sale, 100 seats, 15.00 EUR) unless overridden. */
export async function createTicketType(
  event: Event,
  overrides: Partial<typeof ticketTypes.$inferInsert> = {},
): Promise<TicketType> {
  const [ticketType] = await database()
    .insert(ticketTypes)
    .values({
      name: 'General admission',
      price: 1500,
      currency: 'EUR',
      quantity: 100,
      ...overrides,
      organizationId: event.organizationId,
      eventId: event.id,
    })
    .returning();
  if (!ticketType) throw new Error('ticket type insert returned nothing');
  return ticketType;
}

/** GET on the tenant host without credentials, from a fresh client address unless one is given. */
export function getPublic(
  tenant: TestTenant,
  path: string,
  options: { ip?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return request(tenant.url(path), {
    headers: { 'cf-connecting-ip': options.ip ?? randomIp(), ...options.headers },
  });
}

/** The JSON body of a 200 answer, after checking the text never names a secret or internal field. */
export async function publicJson<T>(response: Response): Promise<T> {
  expect(response.status).toBe(200);
  const text = await response.text();
  for (const secret of ['onlineUrl', 'meet.example.com', 'accessCode', '"sold"', '"held"', 'createdAt', 'updatedAt']) {
    expect(text).not.toContain(secret);
  }
  return JSON.parse(text) as T;
}

/** A public GET traced under a fresh request id: the response and the round trips it cost. */
export async function traced(
  tenant: TestTenant,
  path: string,
  options: { ip?: string; headers?: Record<string, string> } = {},
) {
  const id = newRequestId();
  const response = await getPublic(tenant, path, { ...options, headers: { ...options.headers, 'x-request-id': id } });
  const body = response.status === 200 ? await response.text() : '';
  return { response, body, trips: await roundTrips(id) };
}

/** Reads until an answer comes from the edge cache (its entry is written after the response, in waitUntil). */
export async function untilCached(tenant: TestTenant, path: string, ip: string) {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const read = await traced(tenant, path, { ip });
    if (read.trips.database === 0) return read;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} was never answered from the edge cache`);
}
