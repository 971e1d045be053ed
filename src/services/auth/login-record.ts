import { z } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { createDatabase, type Database } from '../../db/client.ts';
import { memberships } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { afterResponseTraceId } from '../../lib/trace.ts';
import type { ServiceContext } from '../../lib/context.ts';
import type { MessageHandler } from '../../queues/consumer.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import { auditClient } from '../audit/record.ts';
import { notifyNewSignIn } from './sign-in-notice.ts';

/** The audit queue's message type for a successful sign-in (see src/queues/audit.ts). */
export const LOGIN_RECORD_MESSAGE = 'auth.login_record';

/** What a successful sign-in leaves behind after the response: the facts of its `auth.login` audit row. */
const LoginRecordSchema = z.object({
  userId: z.uuid(),
  /** The session (refresh family) id, also the audit row's `metadata.sessionId`: one record per sign-in. */
  sessionId: z.uuid(),
  rehashed: z.boolean(),
  /** The database's clock in the sign-in's batch (UTC, microseconds): the audit row's time and the last-login time. */
  at: z.iso.datetime(),
  /** The request's client fields, already within their columns' bounds (`auditClient`). */
  client: z.object({
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    correlationId: z.string().nullable(),
  }),
});
export type LoginRecord = z.infer<typeof LoginRecordSchema>;

/** The sign-in's time in `LoginRecord.at`'s format, to select in the sign-in's own batch. */
export const LOGIN_TIME = sql<string>`to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Writes a sign-in's `auth.login` audit row (created at the sign-in's time, with the request's client fields and
 * `{ sessionId, rehashed }`, exactly as if it had been written in the sign-in's batch) and, on a tenant, moves the
 * membership's `last_login_at` to the sign-in's time unless a later sign-in already did. Idempotent: a transaction
 * lock per session serializes concurrent deliveries and the row is inserted only if the session's row is not there
 * (found through the `(organization_id, created_at)` index), so a redelivered message changes nothing. Platform
 * sign-ins (`organizationId` null) are platform audit rows and have no membership.
 */
export async function writeLoginRecord(db: Database, organizationId: string | null, record: LoginRecord) {
  const action = 'auth.login';
  const at = sql`${record.at}::timestamptz`;
  const { ip, userAgent, requestId, correlationId } = record.client;
  const metadata = JSON.stringify({ sessionId: record.sessionId, rehashed: record.rehashed });
  const lastLogin =
    organizationId === null
      ? []
      : [
          db
            .update(memberships)
            .set({ lastLoginAt: at })
            .where(
              and(
                eq(memberships.organizationId, organizationId),
                eq(memberships.userId, record.userId),
                sql`(${memberships.lastLoginAt} is null or ${memberships.lastLoginAt} < ${at})`,
              ),
            ),
        ];
  await scoped(db, organizationId === null ? { platform: true } : { organizationId }, [
    db.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`${action}:${record.sessionId}`}, 0))`),
    db.execute(sql`
      insert into audit_logs (organization_id, actor_type, actor_user_id, action, target_type, target_id, ip,
                              user_agent, request_id, correlation_id, metadata, created_at)
      select ${organizationId}::uuid, ${organizationId === null ? 'platform_admin' : 'user'}::text,
             ${record.userId}::uuid, ${action}::text, 'user', ${record.userId}::text, ${ip}::text, ${userAgent}::text,
             ${requestId}::text, ${correlationId}::text, ${metadata}::jsonb, ${at}
       where not exists (
         select 1 from audit_logs a
          where ${organizationId === null ? sql`a.organization_id is null` : sql`a.organization_id = ${organizationId}::uuid`}
            and a.created_at = ${at} and a.action = ${action} and a.metadata ->> 'sessionId' = ${record.sessionId})`),
    ...lastLogin,
  ]);
}

/**
 * A database client for work a sign-in leaves after its response: traced locally as `<trace>.after-response` (like
 * the limits' give-back, src/services/auth/limits.ts), so round-trip counts keep measuring the request. The
 * database that serves the request's organization (tenant directory), the shared one on the platform host.
 */
export function afterResponseDatabase(ctx: Pick<ServiceContext, 'bindings' | 'client' | 'tenant'>): Database {
  return createDatabase(ctx.bindings, afterResponseTraceId(ctx.client), ctx.tenant?.database);
}

/**
 * Records a successful sign-in off its database round trips: one message on AUDIT_QUEUE (id
 * `auth.login_record:<session id>`), consumed by `consumeLoginRecord`. The send is awaited, so the record is durable
 * before the caller gets its tokens (a Queue send is neither a database nor a Redis round trip); only when a rare
 * password rehash runs after the response does the record follow it there. Should the queue refuse the message, the
 * record is written directly after the response instead (see `afterResponseDatabase`).
 */
export async function recordLogin(
  ctx: Pick<ServiceContext, 'bindings' | 'client' | 'logger' | 'tenant' | 'waitUntil'>,
  organizationId: string | null,
  entry: Omit<LoginRecord, 'client' | 'rehashed'> & {
    /** Whether the password was stored again with the policy's parameters (after the response: wait for it). */
    rehashed: boolean | Promise<boolean>;
  },
): Promise<void> {
  const client = auditClient(ctx.client);
  const queue = async (rehashed: boolean): Promise<void> => {
    const record: LoginRecord = { ...entry, rehashed, client };
    const envelope: QueueMessage = {
      id: `${LOGIN_RECORD_MESSAGE}:${entry.sessionId}`,
      type: LOGIN_RECORD_MESSAGE,
      organizationId,
      payload: record,
      createdAt: new Date().toISOString(),
    };
    try {
      await ctx.bindings.AUDIT_QUEUE.send(envelope, { contentType: 'json' });
    } catch (error) {
      ctx.logger.warn('sign-in record not queued; writing it directly', { organizationId, error });
      ctx.waitUntil(writeLoginRecord(afterResponseDatabase(ctx), organizationId, record));
    }
  };
  if (typeof entry.rehashed === 'boolean') {
    await queue(entry.rehashed);
    return;
  }
  ctx.waitUntil(entry.rehashed.then(queue));
}

/**
 * The AUDIT_QUEUE consumer of `auth.login_record` (a malformed payload throws: retried, then dead-lettered): the
 * record, then the "new sign-in" email when the device is new to the account here (src/services/auth/sign-in-notice.ts).
 */
export const consumeLoginRecord: MessageHandler = async (message, ctx) => {
  const record = LoginRecordSchema.parse(message.payload);
  const db = await ctx.database();
  await writeLoginRecord(db, message.organizationId, record);
  // After the record: a failure here retries the message, and the record is written once however often it comes.
  await notifyNewSignIn(db, ctx.bindings, message.organizationId, record);
};
