import { z } from '@hono/zod-openapi';
import { instant } from '../events/schema.ts';
import { MAX_CORRELATION_ID, REQUEST_ID_PATTERN } from '../../middleware/request-context.ts';
import { MAX_CLIENT_ADDRESS, MAX_USER_AGENT } from '../../lib/client.ts';
import {
  MAX_AUDIT_ACTION as MAX_ACTION,
  MAX_AUDIT_METADATA,
  MAX_AUDIT_REQUEST_ID,
  MAX_AUDIT_TARGET_ID as MAX_TARGET_ID,
  MAX_AUDIT_TARGET_TYPE,
} from '../../services/audit/bounds.ts';
import { Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
const CURSOR_EXAMPLE = 'WyIyMDI2LTA1LTAxVDA5OjAwOjAwLjEyMzQ1NloiLCI0MiJd';
const ACTION = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?$/;
const TARGET_TYPE = /^[a-z][a-z0-9_]{0,49}$/;
// What the services write (`<area>.<verb>`), at most as long as the `action` filter accepts.
const STORED_ACTION = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;

export const AuditEntrySchema = z
  .object({
    // A bigserial: 1 to 2^63 - 1, as decimal text.
    id: z
      .string()
      .max(19)
      .regex(/^[1-9][0-9]{0,18}$/)
      .openapi({ description: 'The entry id (a growing integer, as a string).', example: '42' }),
    createdAt: Timestamp.openapi({
      description: 'When it happened (ISO 8601, UTC).',
      example: '2026-05-01T09:00:00.123Z',
    }),
    actor: z
      .object({
        type: z.enum(['user', 'api_key', 'platform_admin', 'system', 'anonymous']).openapi({
          description:
            'Who acted: `user`, `api_key` (an integration with an API key), `platform_admin`, `system` or `anonymous`.',
          example: 'user',
        }),
        userId: Uuid.nullable().openapi({
          description: "The acting user's id (for `api_key`: the member who created the key).",
          example: '6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87',
        }),
        apiKeyId: Uuid.nullable().openapi({
          description: 'The API key used (actor type `api_key`); null otherwise.',
          example: null,
        }),
      })
      .openapi({ description: 'The actor.' }),
    action: z
      .string()
      .max(MAX_ACTION)
      .regex(STORED_ACTION)
      .openapi({ description: '`<area>.<verb>`.', example: 'booking.cancelled' }),
    target: z
      .object({
        type: z
          .string()
          .max(MAX_AUDIT_TARGET_TYPE)
          .regex(TARGET_TYPE)
          .openapi({ description: 'What was acted on.', example: 'booking' }),
        id: z
          .string()
          .max(MAX_TARGET_ID)
          .nullable()
          .openapi({ description: 'Its id.', example: '5f7d0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f' }),
      })
      .nullable()
      .openapi({ description: 'What was acted on; null when nothing in particular.' }),
    ip: z
      .string()
      .max(MAX_CLIENT_ADDRESS)
      .nullable()
      .openapi({ description: 'Client address (CF-Connecting-IP).', example: '203.0.113.7' }),
    userAgent: z
      .string()
      .max(MAX_USER_AGENT)
      .nullable()
      .openapi({ description: `Client user agent (its first ${MAX_USER_AGENT} characters).`, example: 'Mozilla/5.0' }),
    // A request's UUID, or the job's label for background work (`scheduled`, `webhook-delivery:<id>:<attempt>`).
    requestId: z
      .string()
      .max(MAX_AUDIT_REQUEST_ID)
      .regex(/^[A-Za-z0-9:._-]+$/)
      .nullable()
      .openapi({
        description: "The server's id of the request that made the change (its `X-Request-Id` response header).",
        example: 'b3f1c2de-8a7b-4c55-9d1e-2f3a4b5c6d7e',
      }),
    correlationId: z
      .string()
      .max(MAX_CORRELATION_ID)
      .regex(REQUEST_ID_PATTERN)
      .nullable()
      .openapi({
        description:
          "The caller's own `X-Request-Id` sent with that request, as given (a client's label, not proof of anything); " +
          'null when none was sent.',
        example: 'checkout-7f3a9c21',
      }),
    metadata: z.record(z.string(), z.unknown()).openapi({
      description:
        `Details of the change (never secrets), at most ${String(MAX_AUDIT_METADATA)} characters as JSON; larger ` +
        'details are stored as `{"truncated": true, "length": <their JSON length>, "keys": [<their first keys>]}`.',
      example: { reason: 'customer request' },
    }),
  })
  .openapi('AuditEntry', { description: 'One entry of the audit log.' });

export const AuditListSchema = cursorPage(AuditEntrySchema, {
  maxItems: MAX_PAGE_SIZE,
  name: 'AuditEntryList',
  items: 'Entries, newest first.',
  cursorExample: CURSOR_EXAMPLE,
});

export type AuditListResponse = z.infer<typeof AuditListSchema>;

const filterParams = {
  actor: Uuid.optional().openapi({
    param: { name: 'actor', in: 'query' },
    description: 'Only entries by this user (id).',
    example: '6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87',
  }),
  action: z
    .string()
    .max(MAX_ACTION)
    .regex(ACTION, 'Must be an action such as `booking.cancelled`, or a prefix such as `booking.*`.')
    .optional()
    .openapi({
      param: { name: 'action', in: 'query' },
      description: 'Only this action (`booking.cancelled`), or every action under a prefix (`booking.*`).',
      example: 'booking.*',
    }),
  targetType: z
    .string()
    .regex(TARGET_TYPE, 'Must be a target type such as `booking`.')
    .optional()
    .openapi({
      param: { name: 'targetType', in: 'query' },
      maxLength: 50,
      description: 'Only entries on this kind of target.',
      example: 'booking',
    }),
  targetId: z
    .string()
    .min(1)
    .max(MAX_TARGET_ID)
    .optional()
    .openapi({
      param: { name: 'targetId', in: 'query' },
      description: 'Only entries on the target with this id.',
      example: '5f7d0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f',
    }),
  from: instant()
    .optional()
    .openapi({
      param: { name: 'from', in: 'query' },
      description: 'Only entries at or after this instant (ISO 8601).',
      example: '2026-05-01T00:00:00Z',
    }),
  to: instant()
    .optional()
    .openapi({
      param: { name: 'to', in: 'query' },
      description: 'Only entries before this instant (ISO 8601).',
      example: '2026-06-01T00:00:00Z',
    }),
};

function orderedRange(value: { from?: Date | undefined; to?: Date | undefined }, context: z.RefinementCtx) {
  if (value.from !== undefined && value.to !== undefined && value.from >= value.to) {
    context.addIssue({ code: 'custom', path: ['to'], message: 'Must be after `from`.' });
  }
}

export const AuditListQuerySchema = z
  .object({
    ...filterParams,
    ...pageParams({ defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE, cursorExample: CURSOR_EXAMPLE }),
    sort: sortParam(['-createdAt', 'createdAt'] as const, 'Order of the entries by time, the id breaking ties.'),
  })
  .strict()
  .superRefine(orderedRange);

export const AuditExportQuerySchema = z
  .object({
    ...filterParams,
    format: z
      .enum(['csv', 'json'])
      .default('csv')
      .openapi({ param: { name: 'format', in: 'query' }, description: '`csv` (default) or `json`.', example: 'csv' }),
  })
  .strict()
  .superRefine(orderedRange);
