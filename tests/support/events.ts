import { and, desc, eq } from 'drizzle-orm';
import { auditLogs } from '../../src/db/schema/index.ts';
import { events, ticketTypes } from '../../src/db/schema/events.ts';
import { database, type TestTenant } from './harness.ts';

const DAY = 86_400_000;

/** A valid create body: a future start, two hours long. */
export function eventBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const start = new Date(Date.now() + 30 * DAY);
  start.setUTCMilliseconds(0);
  return {
    title: 'Summer Jazz Night',
    timezone: 'Europe/Berlin',
    startsAt: start.toISOString(),
    endsAt: new Date(start.getTime() + 2 * 3_600_000).toISOString(),
    ...overrides,
  };
}

/** An event straight into the database (owner connection), a future draft unless overridden. */
export async function insertEvent(
  tenant: TestTenant,
  overrides: Partial<typeof events.$inferInsert> = {},
): Promise<typeof events.$inferSelect> {
  const startsAt = overrides.startsAt ?? new Date(Date.now() + 30 * DAY);
  const [row] = await database()
    .insert(events)
    .values({
      organizationId: tenant.organization.id,
      slug: `e-${crypto.randomUUID().slice(0, 8)}`,
      title: 'Fixture event',
      timezone: 'Europe/Berlin',
      startsAt,
      endsAt: new Date(startsAt.getTime() + 3_600_000),
      ...overrides,
    })
    .returning();
  if (!row) throw new Error('event insert returned nothing');
  return row;
}

/** A ticket type straight into the database (owner connection). */
export async function insertTicketType(
  tenant: TestTenant,
  eventId: string,
  overrides: Partial<typeof ticketTypes.$inferInsert> = {},
): Promise<typeof ticketTypes.$inferSelect> {
  const [row] = await database()
    .insert(ticketTypes)
    .values({
      organizationId: tenant.organization.id,
      eventId,
      name: 'Standard',
      price: 2500,
      currency: 'EUR',
      quantity: 100,
      ...overrides,
    })
    .returning();
  if (!row) throw new Error('ticket type insert returned nothing');
  return row;
}

export async function eventRow(id: string) {
  const [row] = await database().select().from(events).where(eq(events.id, id));
  return row;
}

export async function ticketTypeRow(id: string) {
  const [row] = await database().select().from(ticketTypes).where(eq(ticketTypes.id, id));
  return row;
}

/** The organization's audit rows with this action, newest first. */
export async function eventAudits(tenant: TestTenant, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, action)))
    .orderBy(desc(auditLogs.id));
}
