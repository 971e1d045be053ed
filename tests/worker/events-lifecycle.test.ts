import { describe, expect, it } from 'vitest';
import type { EventResponse } from '../../src/routes/events/schema.ts';
import { createTenant, problem } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';
import { eventAudits, eventRow, insertEvent, insertTicketType } from '../support/events.ts';

async function organizer() {
  const tenant = await createTenant();
  const { member, token } = await memberWithToken(tenant, 'organizer');
  return { tenant, member, token };
}

describe('POST /api/v1/events/{id}/publish', () => {
  it('publishes a draft with a ticket type and a future start, sets publishedAt and audits it', async () => {
    const { tenant, member, token } = await organizer();
    const event = await insertEvent(tenant);
    await insertTicketType(tenant, event.id);
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token });
    expect(response.status).toBe(200);
    const body: EventResponse = await response.json();
    expect(body.status).toBe('published');
    expect(body.publishedAt).not.toBeNull();
    const row = await eventRow(event.id);
    expect(row?.status).toBe('published');
    expect(row?.publishedAt?.toISOString()).toBe(body.publishedAt);
    const [audit] = await eventAudits(tenant, 'event.published');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: event.id });
  });

  it('answers 422 without a ticket type and for a start in the past; the event stays a draft', async () => {
    const { tenant, token } = await organizer();
    const empty = await insertEvent(tenant);
    const noTickets = await call(tenant, 'POST', `/api/v1/events/${empty.id}/publish`, { token });
    expect(noTickets.status).toBe(422);
    expect((await problem(noTickets)).detail).toContain('ticket type');
    const past = await insertEvent(tenant, { startsAt: new Date(Date.now() - 3_600_000) });
    await insertTicketType(tenant, past.id);
    const started = await call(tenant, 'POST', `/api/v1/events/${past.id}/publish`, { token });
    expect(started.status).toBe(422);
    expect((await problem(started)).detail).toContain('startsAt');
    expect((await eventRow(empty.id))?.status).toBe('draft');
    expect((await eventRow(past.id))?.status).toBe('draft');
    expect(await eventAudits(tenant, 'event.published')).toEqual([]);
  });

  it.each(['published', 'cancelled', 'completed'] as const)('answers 409 for a %s event', async (status) => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status });
    await insertTicketType(tenant, event.id);
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token });
    expect(response.status).toBe(409);
    expect((await problem(response)).code).toBe('conflict');
    expect((await eventRow(event.id))?.status).toBe(status);
  });

  it('lets exactly one of two concurrent publishes succeed, with one audit row', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    await insertTicketType(tenant, event.id);
    const responses = await Promise.all(
      [1, 2].map(() => call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token })),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409]);
    expect((await eventRow(event.id))?.status).toBe('published');
    expect(await eventAudits(tenant, 'event.published')).toHaveLength(1);
  });

  it("answers 404 for another organization's event and 403 to staff; nothing changes", async () => {
    const { tenant, token } = await organizer();
    const otherTenant = await createTenant();
    const foreign = await insertEvent(otherTenant);
    await insertTicketType(otherTenant, foreign.id);
    expect((await call(tenant, 'POST', `/api/v1/events/${foreign.id}/publish`, { token })).status).toBe(404);
    expect((await eventRow(foreign.id))?.status).toBe('draft');
    const mine = await insertEvent(tenant);
    await insertTicketType(tenant, mine.id);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    expect((await call(tenant, 'POST', `/api/v1/events/${mine.id}/publish`, { token: staffToken })).status).toBe(403);
    expect((await call(tenant, 'POST', `/api/v1/events/${mine.id}/publish`)).status).toBe(401);
    expect((await eventRow(mine.id))?.status).toBe('draft');
  });
});

describe('POST /api/v1/events/{id}/cancel', () => {
  it.each(['draft', 'published'] as const)('cancels a %s event, sets cancelledAt and audits it', async (status) => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status });
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token });
    expect(response.status).toBe(200);
    const body: EventResponse = await response.json();
    expect(body.status).toBe('cancelled');
    const row = await eventRow(event.id);
    expect(row?.status).toBe('cancelled');
    expect(row?.cancelledAt?.toISOString()).toBe(body.cancelledAt);
    const [audit] = await eventAudits(tenant, 'event.cancelled');
    expect(audit?.metadata).toMatchObject({ from: status, to: 'cancelled' });
  });

  it.each(['cancelled', 'completed'] as const)('answers 409 for a %s event', async (status) => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status });
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token });
    expect(response.status).toBe(409);
    expect((await eventRow(event.id))?.cancelledAt).toBeNull();
  });

  it('lets one of two concurrent cancels succeed; a cancelled event cannot be published or edited', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    await insertTicketType(tenant, event.id);
    const responses = await Promise.all(
      [1, 2].map(() => call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token })),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409]);
    expect(await eventAudits(tenant, 'event.cancelled')).toHaveLength(1);
    expect((await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token })).status).toBe(409);
    expect((await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { title: 'X' } })).status).toBe(409);
    expect((await call(tenant, 'DELETE', `/api/v1/events/${event.id}`, { token })).status).toBe(409);
  });

  it("answers 404 for another organization's event; it stays as it was", async () => {
    const { tenant, token } = await organizer();
    const foreign = await insertEvent(await createTenant(), { status: 'published' });
    expect((await call(tenant, 'POST', `/api/v1/events/${foreign.id}/cancel`, { token })).status).toBe(404);
    expect((await eventRow(foreign.id))?.status).toBe('published');
    expect((await call(tenant, 'POST', '/api/v1/events/123/cancel', { token })).status).toBe(400);
  });
});
