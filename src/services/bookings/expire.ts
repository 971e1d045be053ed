import { and, asc, eq, lte, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { bookings, idempotencyKeys } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { ClientInfo } from '../../lib/client.ts';
import type { Logger } from '../../lib/logger.ts';
import { auditInsert } from '../audit/record.ts';
import { nothingChanged } from '../events/shared.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData } from '../outbox/views.ts';
import { releaseStatements } from './transitions.ts';

/** How many lapsed holds one sweep expires, and how many it expires at once (one batch each). */
const SWEEP_LIMIT = 500;
const SWEEP_CONCURRENCY = 8;

export interface SweepResult {
  expired: number;
  skipped: number;
  idempotencyKeysDeleted: number;
}

const SYSTEM_CLIENT: ClientInfo = {
  ip: null,
  addressKey: null,
  userAgent: 'eventra-scheduler',
  requestId: 'scheduled',
};

/**
 * The hold sweep (the scheduled handler, every minute): pending bookings whose hold lapsed become `expired` and
 * release their held seats. Each booking is its own batch under its organization's scope, whose first statement is
 * the conditional status change (pending and still lapsed), so a booking confirmed or cancelled meanwhile is
 * skipped and seats are released exactly once even when two sweeps overlap. Each expiry writes its
 * `booking.expired` event to the outbox in its batch (the scheduled handler dispatches the outbox right after this
 * sweep). Also deletes expired Idempotency-Key records.
 */
export async function sweepExpiredHolds(db: Database, logger: Logger): Promise<SweepResult> {
  const lapsed = await scoped(db, { platform: true }, [
    db
      .select({ id: bookings.id, organizationId: bookings.organizationId, eventId: bookings.eventId })
      .from(bookings)
      .where(and(eq(bookings.status, 'pending'), lte(bookings.expiresAt, sql`now()`)))
      .orderBy(asc(bookings.expiresAt))
      .limit(SWEEP_LIMIT),
    db.execute(
      sql`delete from ${idempotencyKeys} where ctid in (select ctid from ${idempotencyKeys} where expires_at <= now() limit 5000)`,
    ),
  ]);
  const [candidates, deleted] = lapsed;
  let expired = 0;
  let skipped = 0;
  for (let start = 0; start < candidates.length; start += SWEEP_CONCURRENCY) {
    await Promise.all(
      candidates.slice(start, start + SWEEP_CONCURRENCY).map(async (booking) => {
        try {
          await scoped(db, { organizationId: booking.organizationId }, [
            ...releaseStatements(db, booking.organizationId, booking.id, booking.eventId, 'pending', 'expired', {
              lapsedOnly: true,
            }),
            auditInsert(db, SYSTEM_CLIENT, {
              organizationId: booking.organizationId,
              actor: { type: 'system' },
              action: 'booking.expired',
              target: { type: 'booking', id: booking.id },
              metadata: { eventId: booking.eventId },
            }),
            outboxInsertSelect(db, {
              organizationId: booking.organizationId,
              type: 'booking.expired',
              data: bookingData(booking.organizationId, booking.id),
            }),
          ]);
          expired += 1;
        } catch (error) {
          if (!nothingChanged(error)) throw error;
          skipped += 1;
        }
      }),
    );
  }
  const result = { expired, skipped, idempotencyKeysDeleted: deleted.rowCount };
  if (expired > 0 || skipped > 0) logger.info('expired lapsed holds', { ...result });
  return result;
}
