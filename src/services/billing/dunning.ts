import { and, asc, eq, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { organizationBilling, organizations } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import type { ClientInfo } from '../../lib/client.ts';
import type { Logger } from '../../lib/logger.ts';
import { auditInsert } from '../audit/record.ts';
import { abortLabel, mustChange } from '../events/shared.ts';
import { dunningSchedule } from './config.ts';
import { billingNotice } from './notices.ts';
import { forgetPlanHosts, planChangeStatements } from './plan-change.ts';

const SWEEP_LIMIT = 100;

const SYSTEM_CLIENT: ClientInfo = {
  ip: null,
  addressKey: null,
  userAgent: 'eventra-scheduler',
  requestId: 'scheduled',
};

export interface DunningSweepResult {
  downgraded: number;
  skipped: number;
}

/**
 * The dunning sweep (the scheduled handler, every minute): organizations whose plan payments kept failing past the
 * schedule (BILLING_DUNNING_MAX_FAILURES failed payments, or BILLING_DUNNING_GRACE_DAYS after the first) move to the
 * starter plan. Nothing is deleted: what exceeds the starter quotas stays, and quotas.ts refuses only new writes
 * beyond them. Each organization is one batch: the conditional mark (still in dunning, not yet downgraded), the plan
 * change with its `organization.plan_changed` audit row, a `billing.dunning_downgraded` audit row; then its cached
 * tenant is forgotten and its owners are emailed. A paid invoice restores the subscription's plan (webhook.ts).
 */
export async function sweepDunning(
  db: Database,
  bindings: Pick<
    Bindings,
    'ROOT_DOMAIN' | 'EMAIL_QUEUE' | 'BILLING_DUNNING_MAX_FAILURES' | 'BILLING_DUNNING_GRACE_DAYS'
  >,
  logger: Logger,
): Promise<DunningSweepResult> {
  const { maxFailures, graceDays } = dunningSchedule(bindings);
  const inDunning = and(
    isNotNull(organizationBilling.dunningStartedAt),
    isNull(organizationBilling.dunningDowngradedAt),
  );
  const due = or(
    sql`${organizationBilling.dunningFailures} >= ${maxFailures}`,
    lte(organizationBilling.dunningStartedAt, sql`now() - make_interval(days => ${graceDays})`),
  );
  const [candidates] = await scoped(db, { platform: true }, [
    db
      .select({
        organizationId: organizations.id,
        slug: organizations.slug,
        plan: organizations.plan,
        failures: organizationBilling.dunningFailures,
        startedAt: organizationBilling.dunningStartedAt,
      })
      .from(organizationBilling)
      .innerJoin(organizations, eq(organizations.id, organizationBilling.organizationId))
      .where(and(inDunning, due))
      .orderBy(asc(organizationBilling.dunningStartedAt))
      .limit(SWEEP_LIMIT),
  ]);
  let downgraded = 0;
  let skipped = 0;
  for (const candidate of candidates) {
    const { organizationId } = candidate;
    const change =
      candidate.plan === 'starter'
        ? []
        : planChangeStatements(db, SYSTEM_CLIENT, {
            organizationId,
            from: candidate.plan,
            to: 'starter',
            reason: 'dunning',
            metadata: { failedPayments: candidate.failures },
          });
    try {
      const results = await scoped(db, { organizationId }, [
        mustChange(
          db,
          db
            .update(organizationBilling)
            .set({ dunningDowngradedAt: sql`now()`, updatedAt: sql`now()` })
            .where(and(eq(organizationBilling.organizationId, organizationId), inDunning, due))
            .returning({ organizationId: organizationBilling.organizationId }),
        ),
        auditInsert(db, SYSTEM_CLIENT, {
          organizationId,
          actor: { type: 'system' },
          action: 'billing.dunning_downgraded',
          target: { type: 'organization', id: organizationId },
          metadata: { from: candidate.plan, to: 'starter', failedPayments: candidate.failures, maxFailures, graceDays },
        }),
        ...change,
      ]);
      downgraded += 1;
      if (change.length > 0) {
        await forgetPlanHosts(
          bindings.ROOT_DOMAIN,
          candidate.slug,
          results[results.length - 1] as { hostname: string }[],
        );
      }
      await billingNotice(bindings, organizationId, `downgraded:${candidate.startedAt?.getTime() ?? 0}`, {
        kind: 'downgraded',
        from: candidate.plan,
        failedPayments: candidate.failures,
      }).catch((error: unknown) => {
        logger.error('dunning downgrade notice could not be queued', { organizationId, error });
      });
    } catch (error) {
      // Paid, or changed by a webhook, between the read and the write: nothing to do now.
      if (abortLabel(error) === null) throw error;
      skipped += 1;
    }
  }
  const result = { downgraded, skipped };
  if (downgraded > 0 || skipped > 0) logger.info('dunning sweep', { ...result });
  return result;
}
