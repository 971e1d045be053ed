/** The SQLSTATE and constraint of a PostgreSQL error, wherever the driver or Drizzle wrapped it. */
export interface PostgresErrorInfo {
  code: string;
  constraint: string | null;
}

export function postgresError(error: unknown): PostgresErrorInfo | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const { code, constraint, cause } = current as { code?: unknown; constraint?: unknown; cause?: unknown };
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      return { code, constraint: typeof constraint === 'string' ? constraint : null };
    }
    current = cause;
  }
  return undefined;
}

/** A unique violation (23505) of one of the named constraints or unique indexes. */
export function isUniqueViolation(error: unknown, ...constraints: string[]): boolean {
  const info = postgresError(error);
  return info?.code === '23505' && info.constraint !== null && constraints.includes(info.constraint);
}
