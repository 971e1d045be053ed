import { and, eq, sql } from 'drizzle-orm';
import { organizationExports, type ExportFile, type OrganizationExport } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { signMessage, verifySignature } from '../../lib/crypto.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { takeToken, type LimitRule } from '../../lib/rate-limit.ts';
import { auditInsert } from '../audit/record.ts';
import { tenantOrigin } from '../email/links.ts';
import { abortLabel, actorOf, mustChange } from '../events/shared.ts';
import { EXPORT_ENTITIES } from './entities.ts';
import { exportContentType, exportObjectKey, exportStepMessage } from './job.ts';

export type ExportFormat = OrganizationExport['format'];

/** How long an export's files are kept: the scheduled sweep deletes them (and the job) after this. */
export const EXPORT_RETENTION_DAYS = 7;
/** How long a signed download link works. */
export const DOWNLOAD_LINK_SECONDS = 15 * 60;
/** Exports are heavy background work: a budget per organization (OWASP API4). */
export const EXPORT_LIMIT = { name: 'organization-exports', limit: 10, window: '1 h' } as const satisfies LimitRule;
/**
 * Downloads of export files per client address: a browser or a script fetching a few files, far below a loop that
 * would drain storage egress with a leaked link. Fails open.
 */
export const EXPORT_DOWNLOAD_LIMIT = {
  name: 'export-download-ip',
  limit: 60,
  window: '1 m',
} as const satisfies LimitRule;

export interface ExportFileView extends ExportFile {
  contentType: string;
  /** The signed download link (no bearer token needed), valid until `urlExpiresAt`. */
  url: string;
  urlExpiresAt: string;
}

export interface ExportView {
  id: string;
  format: ExportFormat;
  status: OrganizationExport['status'];
  progress: { entitiesDone: number; entitiesTotal: number; rowsWritten: number };
  files: ExportFileView[];
  sizeBytes: number | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  expiresAt: string;
}

/** The message a download link signs: the organization, the export, the file and the expiry (unix seconds). */
function linkMessage(organizationId: string, exportId: string, file: string, expires: number): string {
  return `${organizationId}\n${exportId}\n${file}\n${String(expires)}`;
}

async function toExportView(ctx: ServiceContext, row: OrganizationExport, now: number): Promise<ExportView> {
  const tenant = requireTenant(ctx);
  const expires = Math.floor(now / 1000) + DOWNLOAD_LINK_SECONDS;
  const files =
    row.status === 'completed'
      ? await Promise.all(
          row.files.map(async (file): Promise<ExportFileView> => {
            const signature = await signMessage(
              ctx.bindings.DATA_ENCRYPTION_KEY,
              'export_download',
              linkMessage(tenant.id, row.id, file.name, expires),
            );
            const url = new URL(`/api/v1/exports/${row.id}/files/${file.name}`, tenantOrigin(ctx, tenant));
            url.searchParams.set('expires', String(expires));
            url.searchParams.set('signature', signature);
            return {
              ...file,
              contentType: exportContentType(file.name),
              url: url.toString(),
              urlExpiresAt: new Date(expires * 1000).toISOString(),
            };
          }),
        )
      : [];
  return {
    id: row.id,
    format: row.format,
    status: row.status,
    progress: { entitiesDone: row.entitiesDone, entitiesTotal: EXPORT_ENTITIES.length, rowsWritten: row.rowsWritten },
    files,
    sizeBytes: row.sizeBytes,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
    expiresAt: row.expiresAt.toISOString(),
  };
}

function exportNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No export with this id.' });
}

/**
 * POST /exports: the organization's export budget taken (one Redis round trip, 429 beyond it), then one database
 * round trip: the job inserted as `queued` unless one of the organization's exports is queued or running (409
 * `conflict`, nothing written), its `organization.export_requested` audit row, and the row read back. Then the first
 * step is enqueued on EXPORT_QUEUE (awaited; if the queue refuses it, the scheduled sweep enqueues it again).
 */
export async function createExport({ ctx, input }: { ctx: ServiceContext; input: { format: ExportFormat } }) {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  await takeToken(ctx.services.redis, ctx.logger, EXPORT_LIMIT, tenant.id, {
    failClosed: true,
    record: ctx.recordRateLimits,
  });
  const id = crypto.randomUUID();
  const mine = and(eq(organizationExports.organizationId, tenant.id), eq(organizationExports.id, id));
  let row: OrganizationExport | undefined;
  try {
    [, , [row]] = await scoped(db, { organizationId: tenant.id }, [
      mustChange(
        db,
        db
          .insert(organizationExports)
          .values({
            id,
            organizationId: tenant.id,
            format: input.format,
            requestedBy: ctx.principal?.userId ?? null,
            expiresAt: sql`now() + make_interval(days => ${EXPORT_RETENTION_DAYS})`,
          })
          .onConflictDoNothing({
            target: organizationExports.organizationId,
            where: sql`status in ('queued', 'running')`,
          })
          .returning({ id: organizationExports.id }),
        'export_active',
      ),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'organization.export_requested',
        target: { type: 'organization_export', id },
        metadata: { format: input.format },
      }),
      db.select().from(organizationExports).where(mine),
    ]);
  } catch (error) {
    if (abortLabel(error) === 'export_active') {
      throw new ApiError('conflict', {
        detail:
          'An export of this organization is already queued or running; wait for it to finish (GET /api/v1/exports).',
      });
    }
    throw error;
  }
  if (row === undefined) throw new Error('export insert returned nothing');
  try {
    await ctx.bindings.EXPORT_QUEUE.send(exportStepMessage(tenant.id, id, 0), { contentType: 'json' });
  } catch (error) {
    ctx.logger.error('export step could not be enqueued; the scheduled sweep will retry', { error, exportId: id });
  }
  return toExportView(ctx, row, Date.now());
}

/** GET /exports/{id}: one database round trip; signed download links when it is completed. 404 for another tenant's. */
export async function getExport({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<ExportView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(organizationExports)
      .where(
        and(eq(organizationExports.organizationId, tenant.id), eq(organizationExports.id, input.id.toLowerCase())),
      ),
  ]);
  if (row === undefined) throw exportNotFound();
  return toExportView(ctx, row, Date.now());
}

const NEWEST_FIRST = listSort('-createdAt');

/** GET /exports: the organization's exports, newest first, keyset-paginated. One database round trip. */
export async function listExports({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { limit: number; cursor?: string | undefined };
}): Promise<{ data: ExportView[]; nextCursor: string | null }> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const after = input.cursor === undefined ? null : decodeCursor(input.cursor);
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ row: organizationExports, cursorAt: cursorTimestamp(organizationExports.createdAt) })
      .from(organizationExports)
      .where(
        and(
          eq(organizationExports.organizationId, tenant.id),
          after === null
            ? undefined
            : keysetAfter(organizationExports.createdAt, organizationExports.id, after, NEWEST_FIRST),
        ),
      )
      .orderBy(...keysetOrder(organizationExports.createdAt, organizationExports.id, NEWEST_FIRST))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  const now = Date.now();
  return {
    data: await Promise.all(page.map(({ row }) => toExportView(ctx, row, now))),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.row.id }) : null,
  };
}

export interface ExportDownload {
  body: ReadableStream;
  size: number;
  contentType: string;
}

/**
 * GET /exports/{id}/files/{file}?expires&signature: the signature checked in the isolate (HMAC-SHA-256 under a key
 * derived from DATA_ENCRYPTION_KEY, over the organization of the host, the export, the file and the expiry): a
 * wrong one (tampered, another organization's, another file's) is a 404 like a missing export; a valid one past its
 * expiry a 403. No database round trip (the route's per-address limit is one Redis round trip): then the R2
 * object, streamed (404 once the export expired).
 */
export async function downloadExport({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; file: string; expires: number; signature: string };
}): Promise<ExportDownload> {
  const tenant = requireTenant(ctx);
  const id = input.id.toLowerCase();
  const valid = await verifySignature(
    ctx.bindings.DATA_ENCRYPTION_KEY,
    'export_download',
    linkMessage(tenant.id, id, input.file, input.expires),
    input.signature,
  );
  if (!valid) throw exportNotFound();
  if (input.expires * 1000 <= Date.now()) {
    throw new ApiError('forbidden', {
      detail: 'This download link has expired; GET /api/v1/exports/{id} hands out fresh links.',
    });
  }
  const object = await ctx.bindings.FILES.get(exportObjectKey(tenant.id, id, input.file));
  if (object === null) throw exportNotFound();
  return { body: object.body, size: object.size, contentType: exportContentType(input.file) };
}
