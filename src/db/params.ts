import { sql, type SQL } from 'drizzle-orm';

/**
 * A text[] as ONE bound parameter (drizzle would expand a bare array into a value list; the driver sends a JS array
 * as a PostgreSQL array literal, quoting each element): one value however many texts, where a parameter per element
 * cost drizzle's builder and the planner per element (a GraphQL dataloader sends 50 ids or more).
 */
export function textArray(values: readonly string[]): SQL {
  return sql`${sql.param([...values])}::text[]`;
}

/** A uuid[] as ONE bound parameter (as `textArray`), for `= any(...)`; an empty list is `'{}'`. */
export function uuidArray(ids: readonly string[]): SQL {
  return sql`${sql.param([...ids])}::uuid[]`;
}
