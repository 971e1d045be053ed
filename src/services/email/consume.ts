import type { z } from '@hono/zod-openapi';
import type { Redis } from '@upstash/redis/cloudflare';
import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { attendees, events, organizations, ticketTypes } from '../../db/schema/index.ts';
import type { Bindings } from '../../env.ts';
import { scoped } from '../../db/tenant.ts';
import type { Logger } from '../../lib/logger.ts';
import { originOnHost } from '../../lib/origin.ts';
import { activeOwnersQuery, brandingQuery, emailBranding } from './branding.ts';
import { bookingEmail, BookingEmailPayloadSchema } from './bookings.ts';
import { deliverOnce, type DeliveryDeps } from './deliver.ts';
import { billingNoticeEmail, BillingNoticePayloadSchema } from './billing.ts';
import { EmailMessageSchema, type Branding, type EmailMessage } from './messages.ts';
import type { EmailProvider } from './send.ts';
import { ticketTransferredAwayEmail, TransferEmailPayloadSchema, transferredTicketEmail } from './transfers.ts';
import { webhookDisabledEmail, WebhookDisabledPayloadSchema } from './webhooks.ts';

/**
 * What the email queue consumers need. The database client is built WITHOUT a request id: background work is not
 * counted on any request's round-trip trace.
 */
export interface EmailConsumerDeps {
  /** Where links in emails point (the organization's host under ROOT_DOMAIN; http locally). */
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'ROOT_DOMAIN'>;
  db: Database;
  redis: Redis;
  provider: EmailProvider;
  logger: Logger;
}

/** The envelope fields the email consumers read (src/queues/messages.ts). */
export interface EmailEnvelope {
  id: string;
  organizationId: string | null;
  payload: unknown;
}

/** A payload that fails its schema: thrown so the queue retries it and finally dead-letters it, never sent. */
export class InvalidEmailPayloadError extends Error {
  override name = 'InvalidEmailPayloadError';
}

function parsePayload<T extends z.ZodType>(schema: T, envelope: EmailEnvelope, type: string): z.infer<T> {
  const parsed = schema.safeParse(envelope.payload);
  if (!parsed.success) {
    // Paths and messages only: the payload carries addresses and links with tokens.
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new InvalidEmailPayloadError(`invalid ${type} payload: ${issues.join('; ')}`);
  }
  return parsed.data;
}

function requireOrganization(envelope: EmailEnvelope, type: string): string {
  if (envelope.organizationId === null) throw new InvalidEmailPayloadError(`${type} needs an organizationId`);
  return envelope.organizationId;
}

const delivery = (deps: EmailConsumerDeps): DeliveryDeps => ({
  redis: deps.redis,
  provider: deps.provider,
  logger: deps.logger,
});

/** `email.send`: a rendered message from `sendLater`, sent once per message id. */
export async function sendQueuedEmail(deps: EmailConsumerDeps, envelope: EmailEnvelope): Promise<void> {
  const message = parsePayload(EmailMessageSchema, envelope, 'email.send');
  // Verification, password reset and invitation mails: each within the recipient's `account` budget.
  await deliverOnce(delivery(deps), message, envelope.organizationId, 'account');
}

/**
 * The event's public iCalendar file for "Add to calendar", on the organization's host `{slug}.{ROOT_DOMAIN}` (always
 * served, unlike a custom domain that may be removed; there is no request here to take a host from). Only where that
 * link answers: an event the public event detail shows (not a draft, public or unlisted: the buyer knows an unlisted
 * event's slug already). Never a secret in it.
 */
export function calendarUrl(
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'ROOT_DOMAIN'>,
  event: { slug: string; status: string; visibility: string; organizationSlug: string },
): string | null {
  if (event.status === 'draft' || event.visibility === 'private') return null;
  const origin = originOnHost(null, `${event.organizationSlug}.${bindings.ROOT_DOMAIN}`, bindings);
  return new URL(`/api/v1/public/events/${encodeURIComponent(event.slug)}/calendar.ics`, origin).toString();
}

/**
 * The event as the ticket emails show it (title, time in its timezone, venue, join link) and what the "Add to
 * calendar" link needs (slug, status, visibility, the organization's slug). Shared by the booking and transfer emails.
 */
function eventQuery(db: Database, organizationId: string, eventId: string) {
  return db
    .select({
      title: events.title,
      startsAt: events.startsAt,
      timezone: events.timezone,
      venue: events.venue,
      onlineUrl: events.onlineUrl,
      slug: events.slug,
      status: events.status,
      visibility: events.visibility,
      organizationSlug: organizations.slug,
    })
    .from(events)
    .innerJoin(organizations, eq(organizations.id, events.organizationId))
    .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId)))
    .limit(1);
}

/**
 * `email.event`: a booking outbox event (confirmed, cancelled, refunded) rendered for the buyer with the
 * organization's branding and the event's title, time (in its timezone) and venue; sent once per envelope id.
 */
export async function sendBookingEventEmail(deps: EmailConsumerDeps, envelope: EmailEnvelope): Promise<void> {
  const event = parsePayload(BookingEmailPayloadSchema, envelope, 'email.event');
  const organizationId = requireOrganization(envelope, 'email.event');
  const { db } = deps;
  const booking = event.data;
  const [organizationRows, eventRows, typeRows] = await scoped(db, { organizationId }, [
    brandingQuery(db, organizationId),
    eventQuery(db, organizationId, booking.eventId),
    db
      .select({ id: ticketTypes.id, name: ticketTypes.name })
      .from(ticketTypes)
      .where(and(eq(ticketTypes.organizationId, organizationId), eq(ticketTypes.eventId, booking.eventId))),
  ]);
  const organization = organizationRows[0];
  if (!organization) {
    // The organization is gone (its bookings with it): nothing to send, and retrying cannot change that.
    deps.logger.warn('booking email dropped: organization not found', { organizationId, type: event.type });
    return;
  }
  const eventRow = eventRows[0];
  const message = bookingEmail({
    id: envelope.id,
    type: event.type,
    booking,
    event: eventRow ?? null,
    calendarUrl: eventRow === undefined ? null : calendarUrl(deps.bindings, eventRow),
    ticketTypeNames: new Map(typeRows.map((row) => [row.id, row.name])),
    branding: emailBranding(organization),
  });
  await deliverOnce(delivery(deps), message, organizationId, 'booking');
}

/** `email.event`: the transfer emails for `ticket.transferred`, the buyer's booking email for the booking events. */
export async function sendOutboxEventEmail(deps: EmailConsumerDeps, envelope: EmailEnvelope): Promise<void> {
  const payload = envelope.payload;
  const type = typeof payload === 'object' && payload !== null && 'type' in payload ? payload.type : undefined;
  if (type === 'ticket.transferred') return sendTransferEmails(deps, envelope);
  return sendBookingEventEmail(deps, envelope);
}

/**
 * `email.event` of `ticket.transferred`: the ticket to the new holder (with its code as the database holds it now,
 * since the event carries none; not sent when the ticket has moved on to someone else since, or was cancelled) and
 * a notice to the previous holder. Each message has its own id (`<envelope id>:holder`, `:previous`) and is sent
 * once; a failure of either retries the message, which then sends only what is still missing.
 */
export async function sendTransferEmails(deps: EmailConsumerDeps, envelope: EmailEnvelope): Promise<void> {
  const event = parsePayload(TransferEmailPayloadSchema, envelope, 'email.event');
  const organizationId = requireOrganization(envelope, 'email.event');
  const { db } = deps;
  const transfer = event.data;
  const [organizationRows, eventRows, ticketRows] = await scoped(db, { organizationId }, [
    brandingQuery(db, organizationId),
    eventQuery(db, organizationId, transfer.eventId),
    db
      .select({
        name: attendees.name,
        email: attendees.email,
        ticketCode: attendees.ticketCode,
        status: attendees.status,
        ticketTypeName: ticketTypes.name,
      })
      .from(attendees)
      .innerJoin(
        ticketTypes,
        and(eq(ticketTypes.organizationId, attendees.organizationId), eq(ticketTypes.id, attendees.ticketTypeId)),
      )
      .where(and(eq(attendees.organizationId, organizationId), eq(attendees.id, transfer.attendeeId)))
      .limit(1),
  ]);
  const organization = organizationRows[0];
  if (!organization) {
    deps.logger.warn('transfer email dropped: organization not found', { organizationId });
    return;
  }
  const ticket = ticketRows[0];
  const base = {
    transfer,
    event: eventRows[0] ?? null,
    ticketTypeName: ticket?.ticketTypeName ?? null,
    branding: emailBranding(organization),
  };
  const messages = [
    ticket === undefined ? null : transferredTicketEmail({ ...base, id: `${envelope.id}:holder` }, ticket),
    ticketTransferredAwayEmail({ ...base, id: `${envelope.id}:previous` }),
  ].filter((message) => message !== null);
  const failures: unknown[] = [];
  for (const message of messages) {
    try {
      await deliverOnce(delivery(deps), message, organizationId, 'booking');
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    throw new Error(`transfer emails: ${failures.length} of ${messages.length} not sent`, { cause: failures[0] });
  }
}

/**
 * Sends one message to every active owner of the organization: one message per owner (id `<envelope id>:<user id>`),
 * each sent once, so a retry after a partial failure only sends the ones still missing.
 */
async function sendToOwners(
  deps: EmailConsumerDeps,
  envelope: EmailEnvelope,
  type: string,
  render: (owner: { id: string; to: string; name: string }, branding: Branding) => EmailMessage,
): Promise<void> {
  const organizationId = requireOrganization(envelope, type);
  const { db } = deps;
  const [organizationRows, owners] = await scoped(db, { organizationId }, [
    brandingQuery(db, organizationId),
    activeOwnersQuery(db, organizationId),
  ]);
  const organization = organizationRows[0];
  if (!organization) {
    deps.logger.warn('owner notice dropped: organization not found', { organizationId, type });
    return;
  }
  const branding = emailBranding(organization);
  const failures: unknown[] = [];
  for (const owner of owners) {
    const message = render(
      { id: `${envelope.id}:${owner.userId}`, to: owner.email, name: owner.displayName ?? owner.name },
      branding,
    );
    try {
      await deliverOnce(delivery(deps), message, organizationId);
    } catch (error) {
      failures.push(error);
    }
  }
  // Any owner not reached: the whole message is retried; the ones already sent are skipped then.
  if (failures.length > 0) {
    throw new Error(`${type} not sent to ${failures.length} of ${owners.length} owners`, { cause: failures[0] });
  }
}

/** `email.webhook_disabled`: tells every active owner of the organization that a webhook endpoint was disabled. */
export async function sendWebhookDisabledEmails(deps: EmailConsumerDeps, envelope: EmailEnvelope): Promise<void> {
  const endpoint = parsePayload(WebhookDisabledPayloadSchema, envelope, 'email.webhook_disabled');
  await sendToOwners(deps, envelope, 'email.webhook_disabled', (owner, branding) =>
    webhookDisabledEmail({ ...owner, endpoint, branding }),
  );
}

/** `email.billing_notice`: tells every active owner about a failed plan payment or a dunning downgrade. */
export async function sendBillingNoticeEmails(deps: EmailConsumerDeps, envelope: EmailEnvelope): Promise<void> {
  const notice = parsePayload(BillingNoticePayloadSchema, envelope, 'email.billing_notice');
  await sendToOwners(deps, envelope, 'email.billing_notice', (owner, branding) =>
    billingNoticeEmail({ ...owner, notice, branding }),
  );
}
