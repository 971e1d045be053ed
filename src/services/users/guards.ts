import { NeonDbError } from '@neondatabase/serverless';
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';

/**
 * Batches are transactions without interactive control: every statement runs, whatever the earlier ones returned.
 * A check that must hold at write time (the last owner, "the row is still what we read") is therefore a statement
 * that FAILS when its condition is false, which rolls back the whole batch, audit row included.
 *
 * PostgreSQL has no assertion in plain SQL; casting a labelled text to int raises `invalid_text_representation`
 * (22P02) whose message carries the label, and only when the CASE picks that branch at run time.
 */
export type GuardLabel = 'stale' | 'last_owner' | 'role_limit' | 'tenant_changed';

const GUARD_PREFIX = 'eventra_guard:';
const GUARD_MESSAGE = /eventra_guard:([a-z_]+)/;

/** A batch statement that aborts the transaction with `label` unless `condition` is true. */
export function guard(db: Database, condition: SQL, label: GuardLabel) {
  return db.execute(sql`select (case when ${condition} then '0' else ${GUARD_PREFIX + label} end)::int as guard`);
}

export interface DatabaseErrorInfo {
  code: string;
  constraint: string | undefined;
  message: string;
}

/** The PostgreSQL error behind a failed batch (SQLSTATE and constraint), if that is what failed. */
export function databaseError(error: unknown): DatabaseErrorInfo | null {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth += 1) {
    if (current instanceof NeonDbError && current.code) {
      return { code: current.code, constraint: current.constraint, message: current.message };
    }
    current = current.cause;
  }
  return null;
}

/** Which guard aborted the batch, or null when the batch failed for another reason. */
export function failedGuard(error: unknown): GuardLabel | null {
  const info = databaseError(error);
  if (info?.code !== '22P02') return null;
  const label = GUARD_MESSAGE.exec(info.message)?.[1];
  return label === 'stale' || label === 'last_owner' || label === 'role_limit' || label === 'tenant_changed'
    ? label
    : null;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
