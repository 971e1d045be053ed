import { asc, desc, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { ApiError } from '../errors/api-error.ts';

/**
 * The keyset cursor of every list: the last row's (timestamp, id), the order of the index that serves the list
 * (members: memberships.created_at + user_id; events: starts_at + id). The timestamp travels as PostgreSQL wrote it,
 * with microseconds, because a JavaScript Date (milliseconds) would skip or repeat rows within the same millisecond.
 * The cursor also names the `sort` it was made under, so that a cursor passed with another sort answers 400 instead
 * of a wrong page (a cursor without one, from before `sort` existed, belongs to the list's default order).
 * Opaque to clients: base64url of a JSON array.
 */
export interface Cursor {
  /** The ordering timestamp, PostgreSQL text in UTC with microseconds. */
  at: string;
  id: string;
}

/** A list order: the `sort` query value (`createdAt`, `-createdAt`: a leading `-` is descending). */
export interface ListSort {
  /** The `sort` value as given. */
  name: string;
  /** The field, without the `-`. */
  field: string;
  descending: boolean;
}

/** Reads a `sort` query value (already checked against the list's allow-list by its query schema). */
export function listSort(name: string): ListSort {
  const descending = name.startsWith('-');
  return { name, field: descending ? name.slice(1) : name, descending };
}

/** The ORDER BY of a keyset list: the timestamp, then the id as tie-breaker, both in the sort's direction. */
export function keysetOrder(at: AnyColumn, id: AnyColumn, sort: ListSort): SQL[] {
  return sort.descending ? [desc(at), desc(id)] : [asc(at), asc(id)];
}

/** The rows strictly after the cursor in the sort's direction: `(at, id) > cursor`, or `<` when descending. */
export function keysetAfter(at: AnyColumn, id: AnyColumn, cursor: Cursor, sort: ListSort): SQL {
  return sort.descending
    ? sql`(${at}, ${id}) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`
    : sql`(${at}, ${id}) > (${cursor.at}::timestamptz, ${cursor.id}::uuid)`;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
export const MAX_CURSOR_LENGTH = 200;

const SORT_NAME = /^-?[A-Za-z]{1,40}$/;
const CursorSchema = z.union([
  z.tuple([z.string().regex(TIMESTAMP).refine(isRealInstant, 'not a valid instant'), z.uuid()]),
  z.tuple([
    z.string().regex(TIMESTAMP).refine(isRealInstant, 'not a valid instant'),
    z.uuid(),
    z.string().regex(SORT_NAME),
  ]),
]);

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

/** The opaque cursor of a position; with `sort`, only a request with the same sort accepts it. */
export function encodeCursor(cursor: Cursor, sort?: ListSort): string {
  return btoa(JSON.stringify(sort === undefined ? [cursor.at, cursor.id] : [cursor.at, cursor.id, sort.name]))
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

/**
 * Reads a cursor (400 when malformed). With `sort`: 400 unless the cursor was made under that sort; a cursor that
 * names no sort was made under `defaultSort`.
 */
export function decodeCursor(raw: string, sort?: { current: ListSort; defaultSort: string }): Cursor {
  if (raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw)) throw malformed();
  let decoded: unknown;
  try {
    decoded = JSON.parse(atob(raw.replaceAll('-', '+').replaceAll('_', '/')));
  } catch {
    throw malformed();
  }
  const parsed = CursorSchema.safeParse(decoded);
  if (!parsed.success) throw malformed();
  const [at, id, madeUnder] = parsed.data;
  if (sort !== undefined && (madeUnder ?? sort.defaultSort) !== sort.current.name) {
    throw new ApiError('validation_failed', {
      detail:
        `This cursor belongs to sort=${madeUnder ?? sort.defaultSort}, not sort=${sort.current.name}: pass the sort ` +
        'the cursor was made with, or start again without a cursor.',
      errors: [{ pointer: '/query/cursor', message: 'The cursor belongs to another sort' }],
    });
  }
  return { at, id };
}
