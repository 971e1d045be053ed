import { asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { featureFlags, organizations, type FeatureFlag, type FlagPlanValues } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { abortLabel, GUARD_LABEL_PREFIX, mustChange, nothingChanged, violatedConstraint } from '../events/shared.ts';
import { isBuiltInFlag } from '../plans/catalogue.ts';
import { forgetFlagDefinitions } from '../tenants/resolve.ts';
import { MAX_FEATURE_FLAGS } from './evaluate.ts';

/**
 * The platform's feature flag registry (issue #16 part 7): platform administrators define, change and delete flags
 * on the platform host, under the `{ platform: true }` scope. Each change is one round trip (the write and its
 * platform audit row in one batch), takes effect at once in this location (`forgetFlagDefinitions`) and everywhere
 * within 30 seconds (the isolates' flag cache). The built-in plan features can be changed, never deleted (409).
 */

const FLAG_LIMIT_LABEL = 'flag_limit';

export interface FeatureFlagView {
  key: string;
  description: string;
  defaultValue: boolean;
  planValues: FlagPlanValues;
  rolloutPercentage: number | null;
  builtIn: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface FlagInput {
  description: string;
  defaultValue: boolean;
  planValues: FlagPlanValues;
  rolloutPercentage: number | null;
}

function present(row: FeatureFlag): FeatureFlagView {
  return {
    key: row.key,
    description: row.description,
    defaultValue: row.defaultValue,
    planValues: row.planValues,
    rolloutPercentage: row.rolloutPercentage,
    builtIn: isBuiltInFlag(row.key),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function noSuchFlag(): ApiError {
  return new ApiError('not_found', { detail: 'No such feature flag.' });
}

function audit(ctx: ServiceContext, action: string, key: string, metadata: Record<string, unknown>) {
  return auditInsert(ctx.services.db, ctx.client, {
    organizationId: null,
    actor: { type: 'platform_admin', userId: ctx.principal?.userId ?? null },
    action,
    target: { type: 'feature_flag', id: key },
    metadata,
  });
}

function selectFlag(db: Database, key: string) {
  return db.select().from(featureFlags).where(eq(featureFlags.key, key)).limit(1);
}

/** Every flag, by key (at most MAX_FEATURE_FLAGS). One round trip. */
export async function listFeatureFlags({ ctx }: { ctx: ServiceContext }): Promise<{ items: FeatureFlagView[] }> {
  const { db } = ctx.services;
  const [rows] = await scoped(db, { platform: true }, [db.select().from(featureFlags).orderBy(asc(featureFlags.key))]);
  return { items: rows.map(present) };
}

/** One flag; 404 when there is none with the key. One round trip. */
export async function getFeatureFlag({ ctx, input }: { ctx: ServiceContext; input: { key: string } }) {
  const { db } = ctx.services;
  const [rows] = await scoped(db, { platform: true }, [selectFlag(db, input.key)]);
  const row = rows[0];
  if (!row) throw noSuchFlag();
  return present(row);
}

/**
 * Defines a flag. A key in use answers 409, as does a flag beyond MAX_FEATURE_FLAGS (checked in the same
 * transaction). Audited as `platform.feature_flag_created`. One round trip.
 */
export async function createFeatureFlag({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: FlagInput & { key: string };
}): Promise<FeatureFlagView> {
  const { db } = ctx.services;
  try {
    const [, [row]] = await scoped(db, { platform: true }, [
      db.execute(
        sql`select (case when (select count(*) from ${featureFlags}) < ${MAX_FEATURE_FLAGS} then '0' else ${GUARD_LABEL_PREFIX + FLAG_LIMIT_LABEL} end)::int as guard`,
      ),
      db.insert(featureFlags).values(input).returning(),
      audit(ctx, 'platform.feature_flag_created', input.key, { after: input }),
    ]);
    if (!row) throw noSuchFlag();
    await forgetFlagDefinitions(ctx.bindings.ROOT_DOMAIN);
    return present(row);
  } catch (error) {
    if (abortLabel(error) === FLAG_LIMIT_LABEL) {
      throw new ApiError('conflict', { detail: `There are ${String(MAX_FEATURE_FLAGS)} feature flags, the most.` });
    }
    if (violatedConstraint(error) === 'feature_flags_pkey') {
      throw new ApiError('conflict', { detail: 'A feature flag with this key exists.' });
    }
    throw error;
  }
}

/**
 * Changes the given fields of a flag (`planValues` replaces the plan values; `rolloutPercentage: null` ends the
 * rollout). Audited as `platform.feature_flag_updated` with the changes. 404 for an unknown key. One round trip.
 */
export async function updateFeatureFlag({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { key: string; changes: Partial<FlagInput> };
}): Promise<FeatureFlagView> {
  const { db } = ctx.services;
  try {
    const [, [row]] = await scoped(db, { platform: true }, [
      mustChange(
        db,
        db
          .update(featureFlags)
          .set({ ...input.changes, updatedAt: sql`now()` })
          .where(eq(featureFlags.key, input.key))
          .returning({ key: featureFlags.key }),
      ),
      selectFlag(db, input.key),
      audit(ctx, 'platform.feature_flag_updated', input.key, { changes: input.changes }),
    ]);
    if (!row) throw noSuchFlag();
    await forgetFlagDefinitions(ctx.bindings.ROOT_DOMAIN);
    return present(row);
  } catch (error) {
    if (nothingChanged(error)) throw noSuchFlag();
    throw error;
  }
}

/**
 * Deletes a flag and every organization's override of it (so a flag defined again later with the key starts
 * clean). The built-in plan features answer 409: code checks them. Audited as `platform.feature_flag_deleted`.
 * One round trip.
 */
export async function deleteFeatureFlag({ ctx, input }: { ctx: ServiceContext; input: { key: string } }) {
  if (isBuiltInFlag(input.key)) {
    throw new ApiError('conflict', {
      detail: 'This flag is a plan feature the API checks; it can be changed, not deleted.',
    });
  }
  const { db } = ctx.services;
  try {
    await scoped(db, { platform: true }, [
      mustChange(
        db,
        db.delete(featureFlags).where(eq(featureFlags.key, input.key)).returning({ key: featureFlags.key }),
      ),
      db
        .update(organizations)
        .set({ planOverrides: sql`${organizations.planOverrides} #- array['features', ${input.key}::text]` })
        .where(sql`${organizations.planOverrides} -> 'features' ? ${input.key}`),
      audit(ctx, 'platform.feature_flag_deleted', input.key, {}),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw noSuchFlag();
    throw error;
  }
  await forgetFlagDefinitions(ctx.bindings.ROOT_DOMAIN);
}
