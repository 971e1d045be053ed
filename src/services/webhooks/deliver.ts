import { z } from '@hono/zod-openapi';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { outbox } from '../../db/schema/outbox.ts';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema/webhooks.ts';
import { scoped } from '../../db/tenant.ts';
import { DecryptionError } from '../../lib/crypto.ts';
import { createRedis } from '../../lib/redis.ts';
import type { ConsumerContext } from '../../queues/consumer.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import { countUsage } from '../plans/usage.ts';
import { databaseError, FOREIGN_KEY_VIOLATION } from '../users/guards.ts';
import { DeliverPayloadSchema, endpointDisabledEmail } from './messages.ts';
import { MAX_ATTEMPTS, parseRetryAfter, queueDelay, retryDelayAfter } from './schedule.ts';
import { decryptWebhookSecret, signatureHeader } from './secrets.ts';
import { checkWebhookUrl } from './url.ts';

/**
 * `webhook.deliver`: one attempt of one delivery, Standard Webhooks 1.0.
 *
 * 1. Claim (one round trip, with the read): a pending delivery whose `next_attempt_at` is due (or null), of an
 *    enabled endpoint, gets `attempts + 1` and a 60 s lease (`next_attempt_at = now() + 60 s`). Only one message can
 *    claim an attempt, so duplicate messages (queue redelivery, a redeliver while retries are scheduled) never make
 *    two requests at once.
 *    Not claimed because the attempt is not due yet (a scheduled retry, or another message's lease): the message
 *    waits again until `next_attempt_at` (`retryLater`, at most 12 h per hop, the Cloudflare Queues maximum), which
 *    is how waits longer than 12 h are made, and how a duplicate takes over should the lease holder die. Already
 *    succeeded or failed, or gone: acknowledged. Endpoint disabled meanwhile: the delivery fails without a request.
 * 2. The URL is checked again (SSRF rules, url.ts); a refused URL is a failed attempt without a request and fails the
 *    delivery. Otherwise POST the event's JSON with `webhook-id` (the event id, the same on every attempt),
 *    `webhook-timestamp`, `webhook-signature` (one `v1,` signature per active secret), 15 s timeout, redirects not
 *    followed.
 * 3. Record the attempt (status, duration, the first 256 bytes of the answer, none of a redirect's, the error) with the
 *    outcome, in one batch:
 *    - 2xx: succeeded; the endpoint's `failing_since` is cleared.
 *    - 410 Gone: the endpoint is disabled (`disabled_reason`), the delivery failed.
 *    - anything else (3xx, 4xx, 5xx, timeout, network error): the endpoint's failure run starts (`failing_since`) if
 *      it had not; the next attempt is scheduled by RETRY_SCHEDULE_SECONDS, or by the receiver's Retry-After on 429
 *      and 503 (5 s to 12 h); after the last attempt the delivery failed. An endpoint failing for more than 3 days is
 *      disabled on its next failure and the organization's owners are emailed (EMAIL_QUEUE `email.webhook_disabled`).
 */
export const REQUEST_TIMEOUT_MS = 15_000;
/** Longer than the request timeout: nobody else claims the attempt while it runs. */
const LEASE_SECONDS = 60;
/**
 * How much of a receiver's answer is kept for the delivery log: enough to tell an error page, little enough that the
 * log does not become a store of whatever a receiver (or whoever it redirects to) sends back.
 */
export const RESPONSE_BODY_LIMIT = 256;
const ERROR_LIMIT = 1024;
export const FAILING_DAYS_BEFORE_DISABLE = 3;
export const USER_AGENT = 'Eventra-Webhooks/1';

const GONE_REASON = 'The endpoint answered 410 Gone.';
const FAILING_REASON = `Every delivery failed for more than ${FAILING_DAYS_BEFORE_DISABLE} days.`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function rowsOf<T>(result: T[] | { rows: T[] }): T[] {
  return Array.isArray(result) ? result : result.rows;
}

function truncateUtf8(text: string, limit: number): string {
  const bytes = encoder.encode(text);
  return bytes.length <= limit ? text : decoder.decode(bytes.slice(0, limit));
}

/** The first `RESPONSE_BODY_LIMIT` bytes of a response body (the rest is not read); nothing of a redirect. */
async function responseSnippet(response: Response): Promise<string | null> {
  if (response.body === null) return null;
  if (isRedirect(response.status)) {
    await response.body.cancel().catch(() => undefined);
    return null;
  }
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, RESPONSE_BODY_LIMIT));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  return decoder.decode(bytes);
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `Timed out after ${REQUEST_TIMEOUT_MS / 1000} s.`;
  }
  return truncateUtf8(error instanceof Error ? error.message || error.name : String(error), ERROR_LIMIT);
}

/** What one attempt produced. */
interface AttemptResult {
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
  retryAfterSeconds: number | null;
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const responseBody = await responseSnippet(response);
    const status = response.status;
    const location = response.headers.get('location');
    return {
      statusCode: status,
      durationMs: Date.now() - started,
      responseBody,
      error: isRedirect(status)
        ? truncateUtf8(`Redirect${location === null ? '' : ` to ${location}`} not followed.`, ERROR_LIMIT)
        : null,
      retryAfterSeconds:
        status === 429 || status === 503 ? parseRetryAfter(response.headers.get('retry-after'), Date.now()) : null,
    };
  } catch (error) {
    return {
      statusCode: null,
      durationMs: Date.now() - started,
      responseBody: null,
      error: describeFetchError(error),
      retryAfterSeconds: null,
    };
  }
}

const DisabledRows = z.array(z.object({ id: z.uuid(), url: z.string(), failing_since: z.string().nullable() }));

/**
 * Disables the endpoint (when `condition` still holds, and it is enabled) with a `webhook_endpoint.disabled` audit row
 * by the system, in one statement; returns the endpoint when this statement disabled it.
 */
function disableEndpoint(
  db: Database,
  organizationId: string,
  endpointId: string,
  reason: string,
  condition: SQL,
  requestId: string,
) {
  return db.execute(sql`
    with disabled as (
      update webhook_endpoints set enabled = false, disabled_reason = ${reason}, updated_at = now()
       where organization_id = ${organizationId} and id = ${endpointId} and enabled and ${condition}
      returning id, url, failing_since
    ), audit as (
      insert into audit_logs (organization_id, actor_type, action, target_type, target_id, request_id, metadata)
      select ${organizationId}::uuid, 'system', 'webhook_endpoint.disabled', 'webhook_endpoint', id::text,
             ${requestId}::text, jsonb_build_object('reason', ${reason}::text, 'url', url, 'failingSince', failing_since)
        from disabled
    )
    select id, url, to_char(failing_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as failing_since
      from disabled`);
}

function loadDelivery(db: Database, organizationId: string, deliveryId: string) {
  return db
    .select({
      delivery: webhookDeliveries,
      endpoint: {
        id: webhookEndpoints.id,
        url: webhookEndpoints.url,
        enabled: webhookEndpoints.enabled,
        secret: webhookEndpoints.secret,
        previousSecret: webhookEndpoints.previousSecret,
      },
      previousActive: sql<boolean>`coalesce(${webhookEndpoints.previousSecretExpiresAt} > now(), false)`,
      failingTooLong: sql<boolean>`coalesce(${webhookEndpoints.failingSince} < now() - ${sql.raw(
        `interval '${String(FAILING_DAYS_BEFORE_DISABLE)} days'`,
      )}, false)`,
      // clock_timestamp(), not now(): now() is this transaction's start, which can precede the start of the one whose
      // lease (`now() + 60 s`) this claim waited for, and the wait would then come out longer than the lease.
      waitSeconds: sql<number>`greatest(0, ceil(extract(epoch from (${webhookDeliveries.nextAttemptAt} - clock_timestamp()))))::int`,
      payload: outbox.payload,
    })
    .from(webhookDeliveries)
    .innerJoin(
      webhookEndpoints,
      and(
        eq(webhookEndpoints.organizationId, webhookDeliveries.organizationId),
        eq(webhookEndpoints.id, webhookDeliveries.endpointId),
      ),
    )
    .leftJoin(
      outbox,
      and(eq(outbox.organizationId, webhookDeliveries.organizationId), eq(outbox.id, webhookDeliveries.eventId)),
    )
    .where(and(eq(webhookDeliveries.organizationId, organizationId), eq(webhookDeliveries.id, deliveryId)))
    .limit(1);
}

/** The claim: attempt number `attempts + 1` of a due, pending delivery of an enabled endpoint, under a lease. */
function claimAttempt(db: Database, organizationId: string, deliveryId: string) {
  return db
    .update(webhookDeliveries)
    .set({
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      nextAttemptAt: sql`now() + ${sql.raw(`interval '${String(LEASE_SECONDS)} seconds'`)}`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(webhookDeliveries.organizationId, organizationId),
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.status, 'pending'),
        sql`(${webhookDeliveries.nextAttemptAt} is null or ${webhookDeliveries.nextAttemptAt} <= now() + interval '1 second')`,
        sql`exists (select 1 from webhook_endpoints e where e.organization_id = ${organizationId}
                    and e.id = ${webhookDeliveries.endpointId} and e.enabled)`,
      ),
    )
    .returning({ attempts: webhookDeliveries.attempts });
}

function failDelivery(db: Database, organizationId: string, deliveryId: string) {
  return db
    .update(webhookDeliveries)
    .set({ status: 'failed', nextAttemptAt: null, updatedAt: sql`now()` })
    .where(
      and(
        eq(webhookDeliveries.organizationId, organizationId),
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.status, 'pending'),
      ),
    );
}

async function signingSecrets(
  ctx: ConsumerContext,
  organizationId: string,
  endpoint: { secret: string; previousSecret: string | null },
  previousActive: boolean,
): Promise<string[] | null> {
  try {
    const current = await decryptWebhookSecret(ctx.bindings, organizationId, endpoint.secret);
    if (!previousActive || endpoint.previousSecret === null) return [current];
    try {
      return [current, await decryptWebhookSecret(ctx.bindings, organizationId, endpoint.previousSecret)];
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      ctx.logger.error('previous webhook secret cannot be decrypted; signing with the current one only');
      return [current];
    }
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
    return null;
  }
}

export async function deliverWebhook(message: QueueMessage, ctx: ConsumerContext): Promise<void> {
  const payload = DeliverPayloadSchema.safeParse(message.payload);
  const organizationId = message.organizationId;
  if (!payload.success || organizationId === null) {
    ctx.logger.error('invalid webhook delivery message', { id: message.id });
    return;
  }
  const deliveryId = payload.data.deliveryId;
  const db = await ctx.database();
  const scope = { organizationId };

  // 1. Claim and read, one round trip.
  const [claimed, [row]] = await scoped(db, scope, [
    claimAttempt(db, organizationId, deliveryId),
    loadDelivery(db, organizationId, deliveryId),
  ]);
  const attempt = claimed[0]?.attempts;
  if (!row || row.delivery.status !== 'pending') return;
  if (attempt === undefined) {
    if (!row.endpoint.enabled) {
      await scoped(db, scope, [failDelivery(db, organizationId, deliveryId)]);
      ctx.logger.info('webhook delivery failed: endpoint disabled', { deliveryId });
      return;
    }
    // Not due yet (a scheduled retry, a wait longer than one queue delay, or another message's lease): wait again.
    if (row.waitSeconds > 0) ctx.retryLater(queueDelay(row.waitSeconds));
    return;
  }

  // 2. The request.
  const eventId = row.delivery.eventId;
  let result: AttemptResult;
  let permanent = false;
  const check = checkWebhookUrl(row.endpoint.url, ctx.bindings.ENVIRONMENT);
  const secrets = check.ok ? await signingSecrets(ctx, organizationId, row.endpoint, row.previousActive) : null;
  const failedWithoutRequest = (error: string): AttemptResult => ({
    statusCode: null,
    durationMs: 0,
    responseBody: null,
    error,
    retryAfterSeconds: null,
  });
  if (!check.ok) {
    result = failedWithoutRequest(`Refused, no request made: ${check.reason}`);
    permanent = true;
  } else if (row.payload === null) {
    result = failedWithoutRequest('The event is no longer available.');
    permanent = true;
  } else if (secrets === null) {
    result = failedWithoutRequest('The signing secret cannot be read; rotate the secret, then redeliver.');
    permanent = true;
  } else {
    const body = JSON.stringify(row.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    result = await post(
      check.url.href,
      {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': eventId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': await signatureHeader(secrets, eventId, timestamp, body),
      },
      body,
    );
  }

  // 3. The outcome, one round trip.
  const status = result.statusCode;
  const succeeded = status !== null && status >= 200 && status < 300;
  const gone = status === 410;
  const disableForFailing = !succeeded && !gone && row.failingTooLong;
  const waitSeconds = result.retryAfterSeconds ?? retryDelayAfter(attempt);
  const retry =
    !succeeded && !gone && !permanent && !disableForFailing && attempt < MAX_ATTEMPTS && waitSeconds !== null;
  const deliveryWhere = and(eq(webhookDeliveries.organizationId, organizationId), eq(webhookDeliveries.id, deliveryId));
  const endpointWhere = and(
    eq(webhookEndpoints.organizationId, organizationId),
    eq(webhookEndpoints.id, row.endpoint.id),
  );
  const requestId = `webhook-delivery:${deliveryId}:${String(attempt)}`;
  let disabled: z.infer<typeof DisabledRows>;
  try {
    const responses = await scoped(db, scope, [
      db.insert(webhookAttempts).values({
        organizationId,
        deliveryId,
        attempt,
        statusCode: status,
        durationMs: result.durationMs,
        responseBody: result.responseBody,
        error: result.error,
      }),
      db
        .update(webhookDeliveries)
        .set({
          status: succeeded ? 'succeeded' : retry ? 'pending' : 'failed',
          nextAttemptAt: retry ? sql`now() + make_interval(secs => ${waitSeconds})` : null,
          lastStatusCode: status,
          updatedAt: sql`now()`,
        })
        .where(deliveryWhere),
      succeeded
        ? db.update(webhookEndpoints).set({ failingSince: null }).where(endpointWhere)
        : db
            .update(webhookEndpoints)
            .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, now())` })
            .where(endpointWhere),
      gone
        ? disableEndpoint(db, organizationId, row.endpoint.id, GONE_REASON, sql`true`, requestId)
        : disableForFailing
          ? disableEndpoint(
              db,
              organizationId,
              row.endpoint.id,
              FAILING_REASON,
              sql`failing_since < now() - ${sql.raw(`interval '${String(FAILING_DAYS_BEFORE_DISABLE)} days'`)}`,
              requestId,
            )
          : db.execute(sql`select 1 where false`),
    ]);
    disabled = gone || disableForFailing ? DisabledRows.parse(rowsOf(responses[3] as { rows: unknown[] })) : [];
  } catch (error) {
    // The endpoint (and with it the delivery) was deleted during the attempt: nothing left to record.
    if (databaseError(error)?.code === FOREIGN_KEY_VIOLATION) return;
    throw error;
  }

  ctx.logger.info('webhook attempt', {
    deliveryId,
    eventId,
    attempt,
    statusCode: status,
    durationMs: result.durationMs,
    outcome: succeeded ? 'succeeded' : retry ? 'retry' : 'failed',
  });
  // The organization's `webhook_deliveries` usage: attempts that made a request (never throws).
  if (!permanent) {
    await countUsage({ redis: createRedis(ctx.bindings), logger: ctx.logger }, organizationId, 'webhook_deliveries');
  }
  const [disabledEndpoint] = disabled;
  if (disabledEndpoint && disableForFailing && disabledEndpoint.failing_since !== null) {
    try {
      await ctx.bindings.EMAIL_QUEUE.send(
        endpointDisabledEmail(organizationId, {
          id: disabledEndpoint.id,
          url: disabledEndpoint.url,
          failingSince: disabledEndpoint.failing_since,
          reason: FAILING_REASON,
        }),
      );
    } catch (error) {
      // The endpoint stays disabled either way; the owners see it in the API.
      ctx.logger.error('webhook disabled email could not be queued', { endpointId: disabledEndpoint.id, error });
    }
  }
  if (retry) ctx.retryLater(queueDelay(waitSeconds));
}
