import { z } from '@hono/zod-openapi';
import { organizationPlan, organizationStatus } from '../../db/schema/index.ts';
import { DEAD_LETTER_QUEUES, type DeadLetterQueue } from '../../services/platform/dead-letters.ts';
import { MAX_METRICS_DAYS } from '../../services/platform/metrics.ts';
import { DayOut, DayRangeQuerySchema, int64, StoredCurrencyCode, Timestamp } from '../fields.ts';

/** The dashboard metrics (GET /api/v1/platform/metrics). */

export const PlatformMetricsQuerySchema = DayRangeQuerySchema;

const count = (description: string) => int64().openapi({ description });

const CurrencyFiguresSchema = (name: string, what: string, amount: string) =>
  z
    .object({
      currency: StoredCurrencyCode.openapi({ description: 'ISO 4217 code.', example: 'EUR' }),
      count: count(what),
      amount: count(amount),
    })
    .openapi(name);

const BookingFiguresSchema = CurrencyFiguresSchema(
  'PlatformBookingFigures',
  'Bookings confirmed.',
  'Gross volume: the confirmed bookings’ totals, in minor units (before refunds).',
);
const RefundFiguresSchema = CurrencyFiguresSchema(
  'PlatformRefundFigures',
  'Refunds that succeeded.',
  'Amount refunded, in minor units.',
);

const bookingList = BookingFiguresSchema.array()
  .max(400)
  .openapi({ description: 'Per currency, by code (only currencies with bookings).' });
const refundList = RefundFiguresSchema.array()
  .max(400)
  .openapi({ description: 'Per currency, by code (only currencies with refunds).' });

const SignupsSchema = z
  .object({
    organizations: count('Organizations created.'),
    users: count('Accounts created (sign-ups, invitations, registrations).'),
  })
  .openapi('PlatformSignups');

const OrganizationsSnapshotSchema = z
  .object({
    byPlan: z.object(Object.fromEntries(organizationPlan.enumValues.map((plan) => [plan, count(`On ${plan}.`)]))),
    byStatus: z.object(
      Object.fromEntries(organizationStatus.enumValues.map((status) => [status, count(`Status ${status}.`)])),
    ),
  })
  .openapi('PlatformOrganizationsSnapshot', {
    description: 'Every organization by plan and by status, as the last rollup of the day counted them.',
  });

const DeadLettersSchema = z
  .object(
    Object.fromEntries(
      DEAD_LETTER_QUEUES.map((queue) => [
        queue,
        count(
          queue === 'unknown' ? 'Messages that were no envelope, or of no known type.' : `From the ${queue} queue.`,
        ),
      ]),
    ) as Record<DeadLetterQueue, ReturnType<typeof count>>,
  )
  .openapi('PlatformDeadLetters', {
    description:
      'Messages that exhausted their retries and reached the dead-letter queue, per queue they failed on (see ' +
      '`GET /api/v1/platform/dead-letters`).',
  });

const DaySchema = z
  .object({
    day: DayOut.openapi({ description: 'The UTC day.', example: '2026-05-01' }),
    computedAt: Timestamp.nullable().openapi({
      description: 'When the rollup last counted this day; null when it never did (the figures are then zeros).',
    }),
    signups: SignupsSchema,
    activeUsers: count(
      'Distinct accounts that signed in or refreshed a session that day (any organization, or the platform host).',
    ),
    eventsPublished: count('Events published that day.'),
    bookings: bookingList,
    refunds: refundList,
    webhookDeliveries: z
      .object({
        succeeded: count('Deliveries that succeeded that day.'),
        failed: count('Deliveries that gave up that day (retries exhausted or endpoint disabled).'),
      })
      .openapi('PlatformWebhookDeliveries'),
    emailsSent: count('Emails sent for organizations that day.'),
    deadLetters: DeadLettersSchema,
    organizations: OrganizationsSnapshotSchema.nullable().openapi({
      description: 'The snapshot taken that day; null for a day no rollup ran on.',
    }),
    outboxBacklog: int64()
      .nullable()
      .openapi({ description: 'Outbox events not yet dispatched, at the day’s last rollup; null as above.' }),
    deadLettersOpen: int64()
      .nullable()
      .openapi({ description: 'Dead letters not yet resolved, at the day’s last rollup; null as above.' }),
  })
  .openapi('PlatformMetricsDay', { description: 'One UTC day of platform metrics.' });

export const PlatformMetricsSchema = z
  .object({
    from: DayOut.openapi({ description: 'First day of the range.', example: '2026-05-01' }),
    to: DayOut.openapi({ description: 'Last day of the range.', example: '2026-05-30' }),
    days: DaySchema.array()
      .max(MAX_METRICS_DAYS)
      .openapi({ description: 'Every day of the range, oldest first (zeros for days not rolled up).' }),
    totals: z
      .object({
        signups: SignupsSchema,
        eventsPublished: count('Events published.'),
        bookings: bookingList,
        refunds: refundList,
        webhookDeliveries: z.object({
          succeeded: count('Deliveries that succeeded.'),
          failed: count('Deliveries that gave up.'),
          successRate: z.number().min(0).max(1).nullable().openapi({
            description: 'succeeded / (succeeded + failed); null when no delivery finished.',
            example: 0.98,
          }),
        }),
        emailsSent: count('Emails sent.'),
        deadLetters: DeadLettersSchema,
      })
      .openapi('PlatformMetricsTotals', {
        description:
          'Sums over the range. Active users are not summed (the same account is active on many days); the ' +
          'snapshots are in `latest`.',
      }),
    latest: z
      .object({
        day: DayOut.openapi({ description: 'The day of the snapshot.' }),
        organizations: OrganizationsSnapshotSchema.nullable(),
        outboxBacklog: int64().nullable(),
        deadLettersOpen: int64().nullable(),
      })
      .nullable()
      .openapi({ description: 'The latest snapshot in the range; null when no day of the range has one.' }),
  })
  .openapi('PlatformMetrics', { description: 'Platform metrics per UTC day, with totals.' });

export type PlatformMetricsResponse = z.infer<typeof PlatformMetricsSchema>;
