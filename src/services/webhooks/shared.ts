import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import {
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  type WebhookDelivery,
  type WebhookEndpoint,
} from '../../db/schema/webhooks.ts';
import { ApiError } from '../../errors/api-error.ts';

/** An endpoint as the API shows it: everything but the secrets. */
export interface WebhookEndpointView {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint with its new signing secret: the answer of create and rotate-secret, the only time it is shown. */
export interface WebhookEndpointWithSecret extends WebhookEndpointView {
  secret: string;
}

export function toEndpointView(row: WebhookEndpoint, now: Date = new Date()): WebhookEndpointView {
  // The previous secret signs (and is reported) only until it expires.
  const expires = row.previousSecret === null ? null : row.previousSecretExpiresAt;
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    failingSince: row.failingSince?.toISOString() ?? null,
    previousSecretExpiresAt: expires !== null && expires > now ? expires.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export type WebhookAttempt = typeof webhookAttempts.$inferSelect;

export interface WebhookAttemptView {
  attempt: number;
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
  createdAt: string;
}

export interface WebhookDeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: WebhookDelivery['status'];
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  createdAt: string;
  updatedAt: string;
  attempts: WebhookAttemptView[];
}

export function toAttemptView(row: WebhookAttempt): WebhookAttemptView {
  return {
    attempt: row.attempt,
    statusCode: row.statusCode,
    durationMs: row.durationMs,
    responseBody: row.responseBody,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
  };
}

export function toDeliveryView(row: WebhookDelivery, attempts: readonly WebhookAttempt[]): WebhookDeliveryView {
  return {
    id: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attemptCount: row.attempts,
    nextAttemptAt: row.status === 'pending' ? (row.nextAttemptAt?.toISOString() ?? null) : null,
    lastStatusCode: row.lastStatusCode,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    attempts: [...attempts].sort((a, b) => b.attempt - a.attempt).map(toAttemptView),
  };
}

export function endpointNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No webhook endpoint with this id.' });
}

export function deliveryNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No webhook delivery with this id.' });
}

export function endpointDisabled(): ApiError {
  return new ApiError('conflict', {
    detail: 'The webhook endpoint is disabled; enable it (PUT with `enabled: true`) first.',
  });
}

export function selectEndpoint(db: Database, organizationId: string, id: string) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.organizationId, organizationId), eq(webhookEndpoints.id, id)))
    .limit(1);
}

export function selectDelivery(db: Database, organizationId: string, id: string) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.organizationId, organizationId), eq(webhookDeliveries.id, id)))
    .limit(1);
}

export function selectAttempts(db: Database, organizationId: string, deliveryId: string) {
  return db
    .select()
    .from(webhookAttempts)
    .where(and(eq(webhookAttempts.organizationId, organizationId), eq(webhookAttempts.deliveryId, deliveryId)));
}
