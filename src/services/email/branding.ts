import { z } from '@hono/zod-openapi';
import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { memberships, organizations, roles, users } from '../../db/schema/index.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import type { Branding, EmailMessage } from './messages.ts';

export const DEFAULT_EMAIL_COLOR = '#4f46e5';

/** The organization columns its emails need; put it in the same batch as the change that sends the email. */
export function brandingQuery(db: Database, organizationId: string) {
  return db
    .select({ name: organizations.name, branding: organizations.branding })
    .from(organizations)
    .where(eq(organizations.id, organizationId));
}

/** The active owners of an organization, the recipients of its notices (by user id); put it in the same batch. */
export function activeOwnersQuery(db: Database, organizationId: string) {
  return db
    .select({ userId: users.id, email: users.email, name: users.name, displayName: memberships.displayName })
    .from(memberships)
    .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(
      and(eq(memberships.organizationId, organizationId), eq(roles.key, OWNER_ROLE), eq(memberships.status, 'active')),
    )
    .orderBy(asc(memberships.userId));
}

// Branding is settings data: a malformed field falls back to the default instead of failing the email (a failure
// only for existing members would also tell them apart from unknown addresses).
const optionalText = z.string().min(1).optional().catch(undefined);
const OrganizationEmailRow = z.object({
  name: z.string(),
  branding: z
    .object({
      displayName: optionalText,
      emailSenderName: optionalText,
      primaryColor: optionalText,
      logoUrl: optionalText,
    })
    .catch({}),
});

/** The branding of an organization's emails (sender name, colors, logo), with defaults for what it has not set. */
export function emailBranding(row: unknown): Branding {
  const { name, branding } = OrganizationEmailRow.parse(row);
  const displayName = branding.displayName ?? name;
  return {
    displayName,
    senderName: branding.emailSenderName ?? displayName,
    primaryColor: branding.primaryColor ?? DEFAULT_EMAIL_COLOR,
    logoUrl: branding.logoUrl ?? null,
  };
}

/**
 * Enqueues the message on EMAIL_QUEUE as an `email.send` envelope (id = message id) after the response: the caller
 * never waits for the queue or the provider, and any failure is logged by `waitUntil`, never answered, so a send
 * cannot tell members from unknown addresses. The email queue consumer (src/queues/email.ts) sends it once per
 * message id and retries failures with backoff. Locally the consumer runs in the same `wrangler dev` / test runtime
 * and captures the message in the dev mailbox.
 */
export function sendLater(
  ctx: ServiceContext,
  message: EmailMessage,
  organizationId: string | null = ctx.tenant?.id ?? null,
): void {
  const envelope = emailEnvelope(message, organizationId);
  ctx.waitUntil(Promise.resolve().then(() => ctx.bindings.EMAIL_QUEUE.send(envelope, { contentType: 'json' })));
}

/** The `email.send` envelope of a rendered message (its id is the message id: one send per message). */
export function emailEnvelope(message: EmailMessage, organizationId: string | null): QueueMessage {
  return { id: message.id, type: 'email.send', organizationId, payload: message, createdAt: new Date().toISOString() };
}
