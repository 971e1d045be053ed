import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { organizationDomains, organizations } from '../../db/schema/index.ts';
import type { ClientInfo } from '../../lib/client.ts';
import { auditInsert } from '../audit/record.ts';
import { mustChange } from '../events/shared.ts';
import type { PlanName } from '../plans/catalogue.ts';
import { forgetHosts } from '../tenants/resolve.ts';

export type PlanChangeReason = 'subscription' | 'dunning' | 'payment_recovered';

export interface PlanChange {
  organizationId: string;
  from: PlanName;
  to: PlanName;
  reason: PlanChangeReason;
  /** Where the change came from (Stripe event and subscription ids, failed payments): never secrets. */
  metadata: Record<string, unknown>;
}

/**
 * The batch statements of a plan change made by billing: the organization's plan (only while it is still `from`:
 * the batch aborts with the `plan_changed` guard when something else changed it meanwhile), its
 * `organization.plan_changed` audit row (actor `system`), and the organization's hosts for `forgetPlanHosts`. Nothing
 * is deleted: data beyond the new plan's quotas stays, and only new writes beyond them are refused (quotas.ts).
 */
export function planChangeStatements(db: Database, client: ClientInfo, change: PlanChange) {
  return [
    mustChange(
      db,
      db
        .update(organizations)
        .set({ plan: change.to, updatedAt: new Date() })
        .where(and(eq(organizations.id, change.organizationId), eq(organizations.plan, change.from)))
        .returning({ id: organizations.id }),
      'plan_changed',
    ),
    auditInsert(db, client, {
      organizationId: change.organizationId,
      actor: { type: 'system' },
      action: 'organization.plan_changed',
      target: { type: 'organization', id: change.organizationId },
      metadata: { from: change.from, to: change.to, reason: change.reason, ...change.metadata },
    }),
    db
      .select({ hostname: organizationDomains.hostname })
      .from(organizationDomains)
      .where(eq(organizationDomains.organizationId, change.organizationId)),
  ] as const;
}

/** Drops the organization's cached tenant (its slug and domains) so the new plan's limits apply at once here. */
export async function forgetPlanHosts(
  rootDomain: string,
  slug: string,
  domains: readonly { hostname: string }[],
): Promise<void> {
  await forgetHosts(rootDomain, [{ slug }, ...domains.map(({ hostname }) => ({ hostname }))]);
}
