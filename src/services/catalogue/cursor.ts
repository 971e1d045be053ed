import { z } from 'zod';
import { ApiError } from '../../errors/api-error.ts';

/**
 * The public event list's keyset cursor: the last row's (starts_at, id), the order of the
 * events_organization_id_status_visibility_starts_at_idx index. The timestamp travels as PostgreSQL wrote it, with
 * microseconds (a JavaScript Date would lose them). Opaque to clients: base64url of a JSON pair.
 */
export interface EventCursor {
  startsAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
export const MAX_EVENT_CURSOR_LENGTH = 200;

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

export function encodeEventCursor(cursor: EventCursor): string {
  return btoa(JSON.stringify([cursor.startsAt, cursor.id]))
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

export function decodeEventCursor(raw: string): EventCursor {
  if (raw.length > MAX_EVENT_CURSOR_LENGTH || !BASE64URL.test(raw)) throw malformed();
  let decoded: unknown;
  try {
    decoded = JSON.parse(atob(raw.replaceAll('-', '+').replaceAll('_', '/')));
  } catch {
    throw malformed();
  }
  const parsed = CursorSchema.safeParse(decoded);
  if (!parsed.success) throw malformed();
  const [startsAt, id] = parsed.data;
  return { startsAt, id };
}
