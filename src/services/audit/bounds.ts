import { MAX_CLIENT_ADDRESS, MAX_USER_AGENT } from '../../lib/client.ts';
import { MAX_CORRELATION_ID } from '../../middleware/request-context.ts';

/**
 * The size of every audit column, in UTF-16 code units (what `String.length` counts; never fewer than the code points
 * JSON Schema's `maxLength` counts). The writers keep to them (src/services/audit/record.ts) and the readers clip to
 * them (`boundedAuditRow`), so the list's field bounds and the export's `maxLength` are true for every stored row.
 */
export const MAX_AUDIT_ACTION = 100;
export const MAX_AUDIT_TARGET_TYPE = 50;
export const MAX_AUDIT_TARGET_ID = 200;
/** The server's request id: a UUID, or a job's label (`scheduled`, `webhook-delivery:<id>:<attempt>`). */
export const MAX_AUDIT_REQUEST_ID = 100;
/**
 * `metadata` as JSON (`JSON.stringify`) is at most this long: 4 KiB holds every detail the services record (a role
 * name, a reason, a changed field list, a webhook URL of at most 2,048 characters) with room to spare, and bounds the
 * export row.
 */
export const MAX_AUDIT_METADATA = 4096;

/** The longest text of each CSV column of the export (src/services/audit/export.ts), in column order. */
export const AUDIT_CELL_BOUNDS = {
  // A bigserial: at most 19 decimal digits.
  id: 19,
  // `Date.prototype.toISOString()`: 24 characters, 27 with a six-digit signed year (`+275760-09-13T00:00:00.000Z`).
  created_at: 27,
  // The longest actor type, `platform_admin`.
  actor_type: 14,
  // A UUID.
  actor_user_id: 36,
  action: MAX_AUDIT_ACTION,
  target_type: MAX_AUDIT_TARGET_TYPE,
  target_id: MAX_AUDIT_TARGET_ID,
  ip: MAX_CLIENT_ADDRESS,
  user_agent: MAX_USER_AGENT,
  request_id: MAX_AUDIT_REQUEST_ID,
  correlation_id: MAX_CORRELATION_ID,
  metadata: MAX_AUDIT_METADATA,
} as const;

/** `text` cut to `max` UTF-16 code units (never splitting a surrogate pair); null stays null. */
export function clipText<T extends string | null>(text: T, max: number): T {
  if (text === null || text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end) as T;
}

/**
 * Metadata within MAX_AUDIT_METADATA as JSON: as it is when it fits, else a marker of what was dropped
 * (`{ "truncated": true, "length": <its JSON length>, "keys": [<its first keys that fit>] }`), and `trimmed`.
 */
export function boundedMetadata(metadata: Record<string, unknown>): {
  metadata: Record<string, unknown>;
  trimmed: boolean;
  length: number;
} {
  const length = JSON.stringify(metadata).length;
  if (length <= MAX_AUDIT_METADATA) return { metadata, trimmed: false, length };
  const keys: string[] = [];
  // The marker with no keys is under 60 characters; keys are added while the whole stays under half the bound.
  let size = JSON.stringify({ truncated: true, length, keys }).length;
  for (const key of Object.keys(metadata)) {
    const more = JSON.stringify(key).length + 1;
    if (size + more > MAX_AUDIT_METADATA / 2) break;
    keys.push(key);
    size += more;
  }
  return { metadata: { truncated: true, length, keys }, trimmed: true, length };
}
