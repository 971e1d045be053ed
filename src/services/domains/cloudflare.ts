import type { Bindings } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * A small client of Cloudflare for SaaS's custom hostnames API (`/zones/{zone_id}/custom_hostnames`), over fetch:
 * `Authorization: Bearer <CLOUDFLARE_API_TOKEN>`, JSON bodies, Cloudflare's `{ success, errors, result }` envelope.
 * Every call times out after 10 seconds. A refusal or an unreachable Cloudflare is a 502 `dns_provider_error`
 * problem (503 `service_unavailable` when Cloudflare is not configured), both with Retry-After; the token is never
 * logged and Cloudflare's messages are logged, not passed on.
 */
export const CLOUDFLARE_API_BASE = 'https://api.cloudflare.com/client/v4';
const TIMEOUT_MS = 10_000;
/** Cloudflare's error code for a host name the zone already has (`Duplicate custom hostname found.`). */
const DUPLICATE_HOSTNAME = 1406;

type CloudflareBindings = Pick<
  Bindings,
  'ENVIRONMENT' | 'CLOUDFLARE_API_BASE' | 'CLOUDFLARE_API_TOKEN' | 'CLOUDFLARE_ZONE_ID'
>;

export interface CustomHostname {
  id: string;
  hostname: string;
  /** pending, active, moved, deleted, blocked, ... */
  status: string;
  ssl: {
    status: string;
    method: string | null;
    validationRecords: { txtName: string; txtValue: string }[];
  };
  ownershipVerification: { type: string; name: string; value: string } | null;
  verificationErrors: string[];
}

export interface CloudflareClient {
  baseUrl: string;
  token: string;
  zoneId: string;
  logger: Logger;
}

/** Where Cloudflare calls go: api.cloudflare.com; CLOUDFLARE_API_BASE is refused outside the local environment. */
export function cloudflareApiBase(bindings: Pick<Bindings, 'ENVIRONMENT' | 'CLOUDFLARE_API_BASE'>): string {
  if (bindings.CLOUDFLARE_API_BASE === undefined) return CLOUDFLARE_API_BASE;
  if (bindings.ENVIRONMENT !== 'local') {
    throw new ApiError('misconfigured', { detail: 'CLOUDFLARE_API_BASE may be set in the local environment only.' });
  }
  return bindings.CLOUDFLARE_API_BASE.replace(/\/+$/, '');
}

export function cloudflareClient(bindings: CloudflareBindings, logger: Logger): CloudflareClient {
  const baseUrl = cloudflareApiBase(bindings);
  if (bindings.CLOUDFLARE_API_TOKEN === undefined || bindings.CLOUDFLARE_ZONE_ID === undefined) {
    throw new ApiError('service_unavailable', {
      detail: 'Custom domains are not configured on this platform.',
      headers: { 'retry-after': '3600' },
    });
  }
  return { baseUrl, token: bindings.CLOUDFLARE_API_TOKEN, zoneId: bindings.CLOUDFLARE_ZONE_ID, logger };
}

function upstreamError(detail: string, cause?: unknown): ApiError {
  return new ApiError('dns_provider_error', { detail, headers: { 'retry-after': '30' }, cause });
}

interface Envelope {
  success?: boolean;
  errors?: { code?: number; message?: string }[];
  result?: unknown;
}

async function call(
  client: CloudflareClient,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; envelope: Envelope }> {
  let response: Response;
  try {
    response = await fetch(`${client.baseUrl}/zones/${client.zoneId}/custom_hostnames${path}`, {
      method,
      headers: {
        authorization: `Bearer ${client.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    client.logger.warn('cloudflare unreachable', { method, error: error instanceof Error ? error.name : 'unknown' });
    throw upstreamError('Cloudflare did not answer.');
  }
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  const envelope: Envelope = typeof parsed === 'object' && parsed !== null ? parsed : {};
  return { status: response.status, envelope };
}

function failed(client: CloudflareClient, status: number, envelope: Envelope): ApiError {
  const errors = (envelope.errors ?? []).map((error) => ({ code: error.code, message: error.message }));
  client.logger.warn('cloudflare refused a custom hostname call', { status, errors });
  return upstreamError(`Cloudflare answered ${status}.`);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Cloudflare's custom hostname object, reduced to what the API shows. */
export function parseCustomHostname(value: unknown): CustomHostname | null {
  if (typeof value !== 'object' || value === null) return null;
  const raw = value as Record<string, unknown>;
  if (typeof raw.id !== 'string' || typeof raw.hostname !== 'string') return null;
  const ssl = (typeof raw.ssl === 'object' && raw.ssl !== null ? raw.ssl : {}) as Record<string, unknown>;
  const records = Array.isArray(ssl.validation_records) ? (ssl.validation_records as unknown[]) : [];
  const ownership = raw.ownership_verification as Record<string, unknown> | undefined;
  return {
    id: raw.id,
    hostname: raw.hostname,
    status: text(raw.status) || 'pending',
    ssl: {
      status: text(ssl.status) || 'initializing',
      method: typeof ssl.method === 'string' ? ssl.method : null,
      validationRecords: records
        .filter((record): record is Record<string, unknown> => typeof record === 'object' && record !== null)
        .filter((record) => typeof record.txt_name === 'string' && typeof record.txt_value === 'string')
        .map((record) => ({ txtName: text(record.txt_name), txtValue: text(record.txt_value) })),
    },
    ownershipVerification:
      typeof ownership === 'object' && typeof ownership.name === 'string' && typeof ownership.value === 'string'
        ? { type: text(ownership.type) || 'txt', name: ownership.name, value: ownership.value }
        : null,
    verificationErrors: Array.isArray(raw.verification_errors)
      ? (raw.verification_errors as unknown[]).filter((item): item is string => typeof item === 'string')
      : [],
  };
}

/** The zone's custom hostname for this exact name, or null. */
export async function findCustomHostname(client: CloudflareClient, hostname: string): Promise<CustomHostname | null> {
  const { status, envelope } = await call(client, 'GET', `?hostname=${encodeURIComponent(hostname)}`);
  if (status !== 200 || envelope.success !== true || !Array.isArray(envelope.result)) {
    throw failed(client, status, envelope);
  }
  for (const item of envelope.result as unknown[]) {
    const parsed = parseCustomHostname(item);
    if (parsed?.hostname === hostname) return parsed;
  }
  return null;
}

/**
 * Creates the custom hostname with a DV certificate validated by TXT records. Idempotent: when the zone already has
 * it (a retry after our own insert failed), the existing one is returned with `created: false`.
 */
export async function createCustomHostname(
  client: CloudflareClient,
  hostname: string,
): Promise<{ hostname: CustomHostname; created: boolean }> {
  const { status, envelope } = await call(client, 'POST', '', { hostname, ssl: { method: 'txt', type: 'dv' } });
  if (status >= 200 && status < 300 && envelope.success === true) {
    const parsed = parseCustomHostname(envelope.result);
    if (!parsed) throw failed(client, status, envelope);
    return { hostname: parsed, created: true };
  }
  if ((envelope.errors ?? []).some((error) => error.code === DUPLICATE_HOSTNAME)) {
    const existing = await findCustomHostname(client, hostname);
    if (existing) return { hostname: existing, created: false };
  }
  throw failed(client, status, envelope);
}

/** Deletes a custom hostname by id; one Cloudflare no longer has counts as deleted. */
export async function deleteCustomHostname(client: CloudflareClient, id: string): Promise<void> {
  const { status, envelope } = await call(client, 'DELETE', `/${encodeURIComponent(id)}`);
  if (status === 404) return;
  if (status < 200 || status >= 300 || envelope.success !== true) throw failed(client, status, envelope);
}
