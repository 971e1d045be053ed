import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses } from '../../errors/problem.ts';
import { requirePermission } from '../../middleware/auth.ts';
import type { Permission } from '../../services/auth/permissions.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { MAX_STREAMS_PER_CLIENT, MAX_STREAMS_PER_EVENT } from '../../services/realtime/limits.ts';
import {
  DEFAULT_HEARTBEAT_SECONDS,
  MAX_STREAM_BYTES,
  MAX_STREAM_SECONDS,
  RECONNECT_MS,
} from '../../services/realtime/stream.ts';

const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';
const EXAMPLE_TICKET_TYPE_ID = '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f';

/** `Last-Event-ID`, as EventSource sends it on reconnect. */
export const LiveHeadersSchema = z.object({
  'last-event-id': z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9:-]+$/)
    .optional()
    .openapi({
      param: { name: 'last-event-id', in: 'header' },
      description:
        'The id of the last message seen (sent by EventSource on reconnect). A snapshot with this id is not sent ' +
        'again; messages missed while disconnected are not replayed (the first snapshot is the current state).',
      example: 'a1764676800123',
    }),
});

/** The common part of every live stream's description: the framing, heartbeats, limits and the end. */
export const STREAM_CONVENTIONS =
  `Server-Sent Events (\`text/event-stream\`): the stream starts with \`retry: ${String(RECONNECT_MS)}\`, then ` +
  'messages `id:`, `event:` and one `data:` line of JSON; a comment line (`: heartbeat`) every ' +
  `${String(DEFAULT_HEARTBEAT_SECONDS)} s keeps proxies from closing it. It ends with \`event: end\` and ` +
  '`data: {"reason": ...}` (`session_ended`, `session_unverifiable`, `event_unavailable` when the event is cancelled ' +
  'or made private, `expired` after ' +
  `${String(MAX_STREAM_SECONDS / 60)} min or ${String(MAX_STREAM_BYTES / 1024 / 1024)} MiB, \`closed\`); reconnect then (EventSource does). At most ` +
  `${String(MAX_STREAMS_PER_CLIENT)} streams per client per event and ${String(MAX_STREAMS_PER_EVENT)} per event: ` +
  'beyond them 429 `too_many_streams` with Retry-After. Updates arrive after the change commits and the outbox ' +
  'dispatch runs (well under a second), snapshots at most 4 times a second per event.';

/** A stream's body as the document describes it (an open-ended text stream). */
export function eventStream(description: string, example: string) {
  return {
    'text/event-stream': {
      schema: z.string().max(MAX_STREAM_BYTES).openapi({ description, example }),
    },
  };
}

export const AVAILABILITY_EXAMPLE =
  `retry: ${String(RECONNECT_MS)}\n\n` +
  `id: a1764676800123\nevent: availability\ndata: ${JSON.stringify({
    eventId: EXAMPLE_EVENT_ID,
    at: 1764676800123,
    ticketTypes: [{ id: EXAMPLE_TICKET_TYPE_ID, remaining: 41, onSale: true }],
  })}\n\n: heartbeat\n\n`;

export const CHECK_INS_EXAMPLE =
  `retry: ${String(RECONNECT_MS)}\n\n` +
  `id: c1764676800123\nevent: check-ins\ndata: ${JSON.stringify({
    eventId: EXAMPLE_EVENT_ID,
    at: 1764676800123,
    checkedIn: 120,
    total: 450,
  })}\n\n`;

export const BOOKINGS_EXAMPLE =
  `retry: ${String(RECONNECT_MS)}\n\n` +
  `id: 7c9e6679-7425-40de-944b-e07fc1f90ae7\nevent: booking\ndata: ${JSON.stringify({
    type: 'booking.confirmed',
    id: '3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    eventId: EXAMPLE_EVENT_ID,
    status: 'confirmed',
    buyer: { name: 'Ada Lovelace', email: 'ada@example.com' },
    total: 3000,
    currency: 'EUR',
    items: [{ ticketTypeId: EXAMPLE_TICKET_TYPE_ID, quantity: 2 }],
    createdAt: '2026-12-01T19:00:00.000Z',
    confirmedAt: '2026-12-01T19:00:00.000Z',
  })}\n\n`;

/** A staff stream of an event (`/api/v1/events/{id}/live/<kind>`): bearer token with `permission`, the event id. */
export function staffStreamRoute(spec: {
  kind: 'check-ins' | 'bookings';
  operationId: string;
  summary: string;
  description: string;
  permission: Permission;
  example: string;
}) {
  return createRoute({
    method: 'get',
    path: `/api/v1/events/{id}/live/${spec.kind}`,
    operationId: spec.operationId,
    tags: ['Live'],
    summary: spec.summary,
    description:
      `${spec.description} Needs \`${spec.permission}\`; the session is checked at connect time and again at every ` +
      'heartbeat, and the stream ends (`end` with reason `session_ended`) once it is revoked (logout, role change, ' +
      "member removed). Another organization's event or an unknown id answers 404. " +
      STREAM_CONVENTIONS +
      ' Connecting costs one database round trip and one Redis round trip; every heartbeat one Redis round trip.',
    security: [{ bearerAuth: [] }],
    middleware: [requirePermission(spec.permission)] as const,
    request: { params: EventIdParamsSchema, headers: LiveHeadersSchema },
    responses: {
      200: {
        description: `The stream of ${spec.kind} messages.`,
        content: eventStream(
          `Server-Sent Events: \`${spec.kind === 'bookings' ? 'booking' : spec.kind}\` messages, heartbeats, a final \`end\`.`,
          spec.example,
        ),
      },
      ...errorResponses(400, 401, 403, 404, 429, 503),
    },
  });
}
