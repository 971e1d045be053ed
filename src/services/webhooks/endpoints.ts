import { and, eq, sql, type SQL } from 'drizzle-orm';
import { webhookEndpoints } from '../../db/schema/webhooks.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { auditInsert } from '../audit/record.ts';
import { isPlanLimit, planLimitError, quotaGuard } from '../plans/quotas.ts';
import { actorOf, fieldError, mustChange, nothingChanged } from '../events/shared.ts';
import { type EventType } from '../outbox/catalogue.ts';
import { encryptWebhookSecret, generateWebhookSecret } from './secrets.ts';
import {
  endpointNotFound,
  selectEndpoint,
  toEndpointView,
  type WebhookEndpointView,
  type WebhookEndpointWithSecret,
} from './shared.ts';
import { checkWebhookUrl } from './url.ts';

/** How long the previous secret keeps signing after a rotation (both signatures are sent meanwhile). */
export const ROTATION_OVERLAP_HOURS = 24;

export interface EndpointFields {
  url?: string | undefined;
  description?: string | undefined;
  eventTypes?: EventType[] | undefined;
  enabled?: boolean | undefined;
}

export interface CreateEndpointInput extends EndpointFields {
  url: string;
}

/** The URL as it will be called (normalised by the URL parser), or a 400 naming why the platform will not call it. */
function acceptedUrl(ctx: ServiceContext, raw: string): string {
  const check = checkWebhookUrl(raw, ctx.bindings.ENVIRONMENT);
  if (!check.ok) throw fieldError('/body/url', check.reason);
  return check.url.href;
}

function distinct(eventTypes: readonly EventType[]): EventType[] {
  return [...new Set(eventTypes)];
}

export interface ListEndpointsInput {
  limit: number;
  cursor?: string | undefined;
  /** `createdAt` (default, oldest first) or `-createdAt`. */
  sort?: EndpointSort | undefined;
}

export type EndpointSort = 'createdAt' | '-createdAt';
const DEFAULT_ENDPOINT_SORT: EndpointSort = 'createdAt';

/**
 * The organization's endpoints, oldest first by default (by created_at, id; newest first with sort=-createdAt),
 * with cursor pagination. One round trip.
 */
export async function listEndpoints({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListEndpointsInput;
}): Promise<{ data: WebhookEndpointView[]; nextCursor: string | null }> {
  const tenant = requireTenant(ctx);
  const sort = listSort(input.sort ?? DEFAULT_ENDPOINT_SORT);
  const after =
    input.cursor === undefined
      ? null
      : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_ENDPOINT_SORT });
  const conditions: SQL[] = [eq(webhookEndpoints.organizationId, tenant.id)];
  if (after !== null) conditions.push(keysetAfter(webhookEndpoints.createdAt, webhookEndpoints.id, after, sort));
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        endpoint: webhookEndpoints,
        cursorAt: cursorTimestamp(webhookEndpoints.createdAt),
      })
      .from(webhookEndpoints)
      .where(and(...conditions))
      .orderBy(...keysetOrder(webhookEndpoints.createdAt, webhookEndpoints.id, sort))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map((row) => toEndpointView(row.endpoint)),
    nextCursor:
      rows.length > input.limit && last !== undefined
        ? encodeCursor({ at: last.cursorAt, id: last.endpoint.id }, sort)
        : null,
  };
}

export async function getEndpoint({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<WebhookEndpointView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [
    selectEndpoint(db, tenant.id, input.id.toLowerCase()),
  ]);
  if (!row) throw endpointNotFound();
  return toEndpointView(row);
}

/**
 * Creates an endpoint with a new signing secret, stored encrypted and returned this once. One round trip (the
 * endpoint and its `webhook_endpoint.created` audit row).
 */
export async function createEndpoint({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateEndpointInput;
}): Promise<WebhookEndpointWithSecret> {
  const tenant = requireTenant(ctx);
  const url = acceptedUrl(ctx, input.url);
  const eventTypes = distinct(input.eventTypes ?? []);
  const secret = generateWebhookSecret();
  const id = crypto.randomUUID();
  const db = ctx.services.db;
  let row: typeof webhookEndpoints.$inferSelect | undefined;
  try {
    [, , [row]] = await scoped(db, { organizationId: tenant.id }, [
      // The plan's quota of endpoints: serialized per organization, counted at write time.
      ...quotaGuard(db, tenant, 'webhookEndpoints'),
      db
        .insert(webhookEndpoints)
        .values({
          id,
          organizationId: tenant.id,
          url,
          description: input.description ?? '',
          eventTypes,
          enabled: input.enabled ?? true,
          secret: await encryptWebhookSecret(ctx.bindings, tenant.id, secret),
        })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'webhook_endpoint.created',
        target: { type: 'webhook_endpoint', id },
        metadata: { url, eventTypes, enabled: input.enabled ?? true },
      }),
    ]);
  } catch (error) {
    if (isPlanLimit(error)) throw planLimitError(tenant, 'webhookEndpoints');
    throw error;
  }
  if (!row) throw new Error('webhook endpoint insert returned nothing');
  return { ...toEndpointView(row), secret };
}

/**
 * Changes the given fields. Enabling an endpoint clears the platform's `disabledReason` and the failure run
 * (`failingSince`), as does a new URL; disabling it by hand leaves no reason. Two round trips: the read (404, audit
 * "before") and the conditional write with its `webhook_endpoint.updated` audit row.
 */
export async function updateEndpoint({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: EndpointFields & { id: string };
}): Promise<WebhookEndpointView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const url = input.url === undefined ? undefined : acceptedUrl(ctx, input.url);
  const [[current]] = await scoped(db, scope, [selectEndpoint(db, tenant.id, id)]);
  if (!current) throw endpointNotFound();

  const set: Partial<typeof webhookEndpoints.$inferInsert> = {};
  if (url !== undefined && url !== current.url) set.url = url;
  if (input.description !== undefined && input.description !== current.description) {
    set.description = input.description;
  }
  if (input.eventTypes !== undefined) {
    const eventTypes = distinct(input.eventTypes);
    if (eventTypes.join('\n') !== current.eventTypes.join('\n')) set.eventTypes = eventTypes;
  }
  if (input.enabled !== undefined && input.enabled !== current.enabled) set.enabled = input.enabled;
  const changed = Object.keys(set);
  if (changed.length === 0) return toEndpointView(current);
  if (set.enabled !== undefined || set.url !== undefined) {
    set.disabledReason = null;
    set.failingSince = null;
  }

  try {
    const [, [row]] = await scoped(db, scope, [
      mustChange(
        db,
        db
          .update(webhookEndpoints)
          .set({ ...set, updatedAt: sql`now()` })
          .where(and(eq(webhookEndpoints.organizationId, tenant.id), eq(webhookEndpoints.id, id)))
          .returning({ id: webhookEndpoints.id }),
      ),
      selectEndpoint(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'webhook_endpoint.updated',
        target: { type: 'webhook_endpoint', id },
        metadata: {
          fields: changed,
          before: Object.fromEntries(changed.map((key) => [key, current[key as keyof typeof current]])),
        },
      }),
    ]);
    if (!row) throw endpointNotFound();
    return toEndpointView(row);
  } catch (error) {
    // Deleted between the read and the write.
    if (nothingChanged(error)) throw endpointNotFound();
    throw error;
  }
}

/** Deletes an endpoint with its deliveries and their attempts. One round trip, with a `webhook_endpoint.deleted` audit row. */
export async function deleteEndpoint({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  try {
    await scoped(db, { organizationId: tenant.id }, [
      mustChange(
        db,
        db
          .delete(webhookEndpoints)
          .where(and(eq(webhookEndpoints.organizationId, tenant.id), eq(webhookEndpoints.id, id)))
          .returning({ id: webhookEndpoints.id }),
      ),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'webhook_endpoint.deleted',
        target: { type: 'webhook_endpoint', id },
      }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw endpointNotFound();
    throw error;
  }
}

/**
 * Replaces the signing secret. The current secret becomes the previous one and keeps signing (a second signature in
 * `webhook-signature`) for 24 hours, so receivers can switch without missing a message; an older previous secret is
 * dropped. The new secret is returned this once. One round trip: the swap happens in SQL (`previous_secret = secret`),
 * so two concurrent rotations cannot lose a secret.
 */
export async function rotateSecret({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<WebhookEndpointWithSecret> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const secret = generateWebhookSecret();
  const encrypted = await encryptWebhookSecret(ctx.bindings, tenant.id, secret);
  try {
    const [, [row]] = await scoped(db, { organizationId: tenant.id }, [
      mustChange(
        db,
        db
          .update(webhookEndpoints)
          .set({
            previousSecret: sql`${webhookEndpoints.secret}`,
            previousSecretExpiresAt: sql`now() + ${sql.raw(`interval '${String(ROTATION_OVERLAP_HOURS)} hours'`)}`,
            secret: encrypted,
            updatedAt: sql`now()`,
          })
          .where(and(eq(webhookEndpoints.organizationId, tenant.id), eq(webhookEndpoints.id, id)))
          .returning({ id: webhookEndpoints.id }),
      ),
      selectEndpoint(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'webhook_endpoint.secret_rotated',
        target: { type: 'webhook_endpoint', id },
        metadata: { overlapHours: ROTATION_OVERLAP_HOURS },
      }),
    ]);
    if (!row) throw endpointNotFound();
    return { ...toEndpointView(row), secret };
  } catch (error) {
    if (nothingChanged(error)) throw endpointNotFound();
    throw error;
  }
}
