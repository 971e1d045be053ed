import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { EVENT_TYPES, type EventType } from '../../services/outbox/catalogue.ts';
import { EVENT_PAYLOAD_VERSION } from '../../services/outbox/catalogue.ts';
import { ATTEMPTS_PER_DELIVERY } from '../../services/webhooks/deliveries.ts';
import { RESPONSE_BODY_LIMIT } from '../../services/webhooks/deliver.ts';
import { MAX_WEBHOOK_URL_LENGTH } from '../../services/webhooks/url.ts';
import { int32, storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';

export const DEFAULT_PAGE_SIZE = 20;
const MAX_DESCRIPTION = 500;
export const MAX_PAGE_SIZE = 100;
export const EXAMPLE_ENDPOINT_ID = '7b1e4c2a-5d3f-4e8a-9c6b-1a2b3c4d5e6f';
export const EXAMPLE_DELIVERY_ID = '2f4e6a8c-1b3d-4f5a-8c7e-9d0b1a2c3e4f';
const EXAMPLE_EVENT_ID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const CURSOR_EXAMPLE = 'WyIyMDI2LTExLTAxVDEwOjAwOjAwLjAwMDAwMFoiLCI3YjFlNGMyYS01ZDNmLTRlOGEtOWM2Yi0xYTJiM2M0ZDVlNmYiXQ';

const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as [EventType, ...EventType[]];

/**
 * An event type as stored and shown (`booking.confirmed`): a string rather than the enum on the way out, so a type
 * retired from the catalogue can still be listed.
 */
const storedEventType = () =>
  z
    .string()
    .max(100)
    .regex(/^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/);
/** What the delivery code writes into `error` is cut to 1024 bytes (so at most as many characters). */
const MAX_ATTEMPT_ERROR = 1024;
/** An HTTP status as received: three digits. */
const httpStatus = () => int32(0, 999);

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

export const WebhookEndpointSchema = z
  .object({
    id: Uuid.openapi({ description: 'Endpoint id.', example: EXAMPLE_ENDPOINT_ID }),
    // The stored URL is the normalised one, itself refused beyond the limit (see checkWebhookUrl).
    url: z.string().max(MAX_WEBHOOK_URL_LENGTH).openapi({
      format: 'uri',
      description: 'Where events are POSTed (https, port 443), as the platform calls it (normalised).',
      example: 'https://hooks.example.com/eventra',
    }),
    description: storedLine(MAX_DESCRIPTION).openapi({
      description: 'Free text for the organization.',
      example: 'CRM sync',
    }),
    // Stored without duplicates.
    eventTypes: z
      .array(storedEventType())
      .max(EVENT_TYPE_NAMES.length)
      .openapi({
        description: 'The event types delivered; empty: every type (see GET /api/v1/webhooks/event-types).',
        example: ['booking.confirmed', 'booking.cancelled'],
      }),
    enabled: z.boolean().openapi({ description: 'Whether events are delivered.', example: true }),
    disabledReason: storedLine(200)
      .nullable()
      .openapi({
        description:
          'Why the platform disabled the endpoint (it answered 410 Gone, or every delivery failed for more than 3 ' +
          'days); null when enabled or disabled by the organization.',
        example: null,
      }),
    failingSince: Timestamp.nullable().openapi({
      description: 'The first failure of the current run of failed attempts; null after a success.',
      example: null,
    }),
    previousSecretExpiresAt: Timestamp.nullable().openapi({
      description:
        'After a secret rotation: until when the previous secret still signs (a second signature); null otherwise.',
      example: null,
    }),
    createdAt: Timestamp.openapi({ description: 'Created.', example: '2026-11-01T10:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-11-01T10:00:00.000Z' }),
  })
  .openapi('WebhookEndpoint', {
    description: 'A webhook endpoint (Standard Webhooks 1.0). The secret is never shown here.',
  });

export const WebhookEndpointWithSecretSchema = WebhookEndpointSchema.extend({
  secret: z
    .string()
    .max(50)
    .regex(/^whsec_[A-Za-z0-9+/]{43}=$/)
    .openapi({
      description:
        'The signing secret, `whsec_` + base64 of 32 random bytes. Shown only in this response: store it now. Verify ' +
        'the `webhook-signature` header with it (any Standard Webhooks library).',
      example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+1yZ2Pg1Xpo=',
    }),
}).openapi('WebhookEndpointWithSecret', {
  description: 'A webhook endpoint with its new signing secret (the answer of create and rotate-secret only).',
});

const EXAMPLE_ENDPOINT = {
  id: EXAMPLE_ENDPOINT_ID,
  url: 'https://hooks.example.com/eventra',
  description: 'CRM sync',
  eventTypes: ['booking.confirmed', 'booking.cancelled'],
  enabled: true,
  disabledReason: null,
  failingSince: null,
  previousSecretExpiresAt: null,
  createdAt: '2026-11-01T10:00:00.000Z',
  updatedAt: '2026-11-01T10:00:00.000Z',
};

export const EXAMPLES = {
  endpoint: EXAMPLE_ENDPOINT,
  endpointWithSecret: { ...EXAMPLE_ENDPOINT, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+1yZ2Pg1Xpo=' },
};

export const WebhookEndpointListSchema = cursorPage(WebhookEndpointSchema, {
  maxItems: MAX_PAGE_SIZE,
  name: 'WebhookEndpointList',
  items: 'This page of endpoints, oldest first.',
  cursorExample: CURSOR_EXAMPLE,
});

export const WebhookAttemptSchema = z
  .object({
    attempt: int32(1).openapi({ description: 'Attempt number, from 1.', example: 1 }),
    statusCode: httpStatus().nullable().openapi({
      description: 'The HTTP status answered; null when no answer came (timeout, network error, refused URL).',
      example: 500,
    }),
    durationMs: int32().openapi({ description: 'How long the request took.', example: 182 }),
    responseBody: z.string().max(RESPONSE_BODY_LIMIT).nullable().openapi({
      description: 'The first 256 bytes of the response body; null for a redirect (3xx) and when there was none.',
      example: 'Internal Server Error',
    }),
    error: z.string().max(MAX_ATTEMPT_ERROR).nullable().openapi({
      description: 'What went wrong without an answer (timeout, network error, refused URL) or with a redirect.',
      example: null,
    }),
    createdAt: Timestamp.openapi({ description: 'When the attempt ended.', example: '2026-11-01T10:00:01.000Z' }),
  })
  .openapi('WebhookAttempt', { description: 'One request of a delivery and its answer.' });

export const WebhookDeliverySchema = z
  .object({
    id: Uuid.openapi({ description: 'Delivery id.', example: EXAMPLE_DELIVERY_ID }),
    endpointId: Uuid.openapi({ description: 'The endpoint.', example: EXAMPLE_ENDPOINT_ID }),
    eventId: Uuid.openapi({
      description: 'The event id, sent as `webhook-id` on every attempt (receivers deduplicate on it).',
      example: EXAMPLE_EVENT_ID,
    }),
    eventType: storedEventType().openapi({ description: 'The event type.', example: 'booking.confirmed' }),
    status: z.enum(['pending', 'succeeded', 'failed']).openapi({
      description:
        '`pending`: an attempt is queued or scheduled; `succeeded`: a 2xx answer; `failed`: retries exhausted, ' +
        '410 Gone, a refused URL, or the endpoint was disabled.',
      example: 'succeeded',
    }),
    attemptCount: int32().openapi({ description: 'Attempts made so far.', example: 1 }),
    nextAttemptAt: Timestamp.nullable().openapi({
      description: 'While pending: when the next attempt is due (null: as soon as possible).',
      example: null,
    }),
    lastStatusCode: httpStatus()
      .nullable()
      .openapi({ description: 'The status of the last attempt (null: no answer).', example: 200 }),
    createdAt: Timestamp.openapi({ description: 'Created.', example: '2026-11-01T10:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-11-01T10:00:01.000Z' }),
    attempts: z
      .array(WebhookAttemptSchema)
      .max(ATTEMPTS_PER_DELIVERY)
      .openapi({ description: `The latest attempts (up to ${ATTEMPTS_PER_DELIVERY}), newest first.` }),
  })
  .openapi('WebhookDelivery', { description: 'One event for one endpoint, with its attempts.' });

const EXAMPLE_DELIVERY = {
  id: EXAMPLE_DELIVERY_ID,
  endpointId: EXAMPLE_ENDPOINT_ID,
  eventId: EXAMPLE_EVENT_ID,
  eventType: 'booking.confirmed',
  status: 'succeeded' as const,
  attemptCount: 1,
  nextAttemptAt: null,
  lastStatusCode: 200,
  createdAt: '2026-11-01T10:00:00.000Z',
  updatedAt: '2026-11-01T10:00:01.000Z',
  attempts: [
    {
      attempt: 1,
      statusCode: 200,
      durationMs: 182,
      responseBody: 'ok',
      error: null,
      createdAt: '2026-11-01T10:00:01.000Z',
    },
  ],
};

export const DELIVERY_EXAMPLE = EXAMPLE_DELIVERY;

export const WebhookDeliveryListSchema = cursorPage(WebhookDeliverySchema, {
  maxItems: MAX_PAGE_SIZE,
  name: 'WebhookDeliveryList',
  items: 'This page of deliveries, newest first.',
  cursorExample: CURSOR_EXAMPLE,
});

export const EventTypeListSchema = z
  .object({
    version: z.enum([EVENT_PAYLOAD_VERSION]).openapi({
      description: 'The version of the event payloads (`data` is the full object after the change).',
      example: '2026-11-01',
    }),
    data: z
      .array(
        z.object({
          type: z.enum(EVENT_TYPE_NAMES).openapi({ description: 'The event type.', example: 'booking.confirmed' }),
          description: storedLine(500).openapi({
            description: 'When it is sent and what `data` holds.',
            example: 'A booking was confirmed (paid, or free). data: the booking with its tickets.',
          }),
        }),
      )
      .max(EVENT_TYPE_NAMES.length)
      .openapi({ description: 'Every event type an endpoint can subscribe to.' }),
  })
  .openapi('WebhookEventTypeList', { description: 'The event catalogue.' });

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const EndpointIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The endpoint id (a UUID; anything else answers 400).',
    example: EXAMPLE_ENDPOINT_ID,
  }),
});

export const DeliveryIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The delivery id (a UUID; anything else answers 400).',
    example: EXAMPLE_DELIVERY_ID,
  }),
});

export const EndpointListQuerySchema = z
  .object({
    ...pageParams({ defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE, cursorExample: CURSOR_EXAMPLE }),
    sort: sortParam(['createdAt', '-createdAt'] as const, 'Order of the endpoints by creation.'),
  })
  .strict();

export const DeliveryListQuerySchema = z
  .object({
    status: z
      .enum(['pending', 'succeeded', 'failed'])
      .optional()
      .openapi({ param: { name: 'status', in: 'query' }, description: 'Only this status.', example: 'failed' }),
    ...pageParams({ defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE, cursorExample: CURSOR_EXAMPLE }),
    sort: sortParam(['-createdAt', 'createdAt'] as const, 'Order of the deliveries by creation.'),
  })
  .strict();

const endpointFields = {
  url: z
    .string()
    .trim()
    .min(1)
    .max(MAX_WEBHOOK_URL_LENGTH)
    .openapi({
      format: 'uri',
      description:
        'An https URL on port 443, without credentials, whose host is a public DNS name or public IP address (no ' +
        'localhost, *.internal, private, loopback, link-local, CGNAT, multicast or metadata addresses); anything ' +
        'else answers 400 with the reason.',
      example: 'https://hooks.example.com/eventra',
    }),
  description: z
    .string()
    .trim()
    .max(MAX_DESCRIPTION)
    .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
    .openapi({ description: `Free text, at most ${MAX_DESCRIPTION} characters.`, example: 'CRM sync' }),
  eventTypes: z
    .array(z.enum(EVENT_TYPE_NAMES))
    .max(EVENT_TYPE_NAMES.length)
    .openapi({
      description: 'Event types to deliver (each from the catalogue; duplicates are merged); empty: every type.',
      example: ['booking.confirmed', 'booking.cancelled'],
    }),
  enabled: z.boolean().openapi({ description: 'Whether events are delivered (default true).', example: true }),
};

export const EndpointCreateSchema = z
  .object({
    url: endpointFields.url,
    description: endpointFields.description.optional(),
    eventTypes: endpointFields.eventTypes.optional(),
    enabled: endpointFields.enabled.optional(),
  })
  .strict()
  .openapi('WebhookEndpointCreate', {
    description: 'A new endpoint. Nothing else is accepted.',
    example: {
      url: 'https://hooks.example.com/eventra',
      description: 'CRM sync',
      eventTypes: ['booking.confirmed', 'booking.cancelled'],
    },
  });

export const EndpointUpdateSchema = z
  .object({
    url: endpointFields.url.optional(),
    description: endpointFields.description.optional(),
    eventTypes: endpointFields.eventTypes.optional(),
    enabled: endpointFields.enabled.optional(),
  })
  .strict()
  .openapi('WebhookEndpointUpdate', {
    description: 'The fields to change (a partial update). Nothing else is accepted.',
    example: { enabled: true },
  });
