import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../errors/api-error.ts';

/**
 * The keyset cursor of every list: the last row's (timestamp, id), the order of the index that serves the list
 * (members: memberships.created_at + user_id; events: starts_at + id). The timestamp travels as PostgreSQL wrote it,
 * with microseconds, because a JavaScript Date (milliseconds) would skip or repeat rows within the same millisecond.
 * Opaque to clients: base64url of a JSON pair.
 */
export interface Cursor {
  /** The ordering timestamp, PostgreSQL text in UTC with microseconds. */
  at: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
export const MAX_CURSOR_LENGTH = 200;

const CursorSchema = z.tuple([z.string().regex(TIMESTAMP).refine(isRealInstant, 'not a valid instant'), z.uuid()]);

/** A well-formed timestamp PostgreSQL accepts: a real calendar date (no 31 February), from 1970 on. */
function isRealInstant(text: string): boolean {
  const milliseconds = Date.parse(`${text.slice(0, 23)}Z`);
  return (
    Number.isFinite(milliseconds) &&
    milliseconds >= 0 &&
    new Date(milliseconds).toISOString().slice(0, 19) === text.slice(0, 19)
  );
}

/** The ordering timestamp of a row in the cursor's form: PostgreSQL text in UTC with microseconds. */
export function cursorTimestamp(column: SQL | { getSQL(): SQL }): SQL<string> {
  return sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function encodeCursor(cursor: Cursor): string {
  return btoa(JSON.stringify([cursor.at, cursor.id]))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

function malformed(): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The cursor is malformed; pass the `nextCursor` of a previous page unchanged.',
    errors: [{ pointer: '/query/cursor', message: 'Malformed cursor' }],
  });
}

export function decodeCursor(raw: string): Cursor {
  if (raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw)) throw malformed();
  let decoded: unknown;
  try {
    decoded = JSON.parse(atob(raw.replaceAll('-', '+').replaceAll('_', '/')));
  } catch {
    throw malformed();
  }
  const parsed = CursorSchema.safeParse(decoded);
  if (!parsed.success) throw malformed();
  const [at, id] = parsed.data;
  return { at, id };
}
