import { z } from '@hono/zod-openapi';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import {
  organizationExports,
  users,
  type ExportFile,
  type ExportState,
  type OrganizationExport,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import type { ClientInfo } from '../../lib/client.ts';
import type { Logger } from '../../lib/logger.ts';
import { originOnHost } from '../../lib/origin.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import { auditInsert } from '../audit/record.ts';
import { brandingQuery, emailBranding, emailEnvelope } from '../email/branding.ts';
import { exportReadyEmail } from '../email/exports.ts';
import {
  csvHeader,
  csvRecord,
  entityPage,
  entityRows,
  EXPORT_ENTITIES,
  organizationQuery,
  type ExportEntity,
} from './entities.ts';

/** The queue message type of one export step (EXPORT_QUEUE). */
export const EXPORT_STEP_MESSAGE = 'export.step';

export const ExportStepPayloadSchema = z.object({ exportId: z.uuid(), step: z.number().int().min(0) });
export type ExportStepPayload = z.infer<typeof ExportStepPayloadSchema>;

/**
 * The size of every part of an export file but the last (R2 multipart uploads need at least 5 MiB per part but the
 * last): what one step holds in memory, plus at most one page.
 */
export const EXPORT_PART_BYTES = 5 * 1024 * 1024;
/** Rows per database round trip. */
export const EXPORT_PAGE_ROWS = 500;

/** The name of the JSON document; CSV files are `<entity>.csv`. */
export const JSON_FILE = 'organization.json';

/**
 * What a step leaves for the next one: the bytes past the last full part (R2 needs every part but the last to have
 * the same size), kept in R2 under a name per step, so a retried step reads the same carry again.
 */
function carryKey(organizationId: string, exportId: string, step: number): string {
  return exportObjectKey(organizationId, exportId, `carry-${String(step)}`);
}

/** Where an export's files live in R2: `exports/<organization>/<export>/<file>`. */
export function exportObjectKey(organizationId: string, exportId: string, file: string): string {
  return `exports/${organizationId}/${exportId}/${file}`;
}

/** The content type of an export file by its name. */
export function exportContentType(file: string): string {
  return file.endsWith('.json') ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8';
}

const SYSTEM_CLIENT: ClientInfo = { ip: null, addressKey: null, userAgent: 'eventra-exports', requestId: 'exports' };

/** The envelope of step `step` of an export. */
export function exportStepMessage(organizationId: string, exportId: string, step: number): QueueMessage {
  return {
    id: `export:${exportId}:${String(step)}`,
    type: EXPORT_STEP_MESSAGE,
    organizationId,
    payload: { exportId, step } satisfies ExportStepPayload,
    createdAt: new Date().toISOString(),
  };
}

export interface ExportJobDeps {
  bindings: Bindings;
  db: Database;
  logger: Logger;
}

/** Bytes collected for the next part, with their count. */
class PartBuffer {
  private chunks: Uint8Array[] = [];
  bytes = 0;
  private readonly encoder = new TextEncoder();

  push(text: string): void {
    if (text.length > 0) this.pushBytes(this.encoder.encode(text));
  }

  pushBytes(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
  }

  /** The first `size` collected bytes (all of them by default), which leave the buffer. */
  take(size = this.bytes): Uint8Array {
    const all = new Uint8Array(this.bytes);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.chunks = size < all.byteLength ? [all.subarray(size)] : [];
    this.bytes = all.byteLength - Math.min(size, all.byteLength);
    return all.subarray(0, size);
  }
}

async function sha256Of(bucket: R2Bucket, key: string): Promise<string> {
  const object = await bucket.get(key);
  if (object === null) throw new Error('export file missing right after its upload');
  const digest = new crypto.DigestStream('SHA-256');
  await object.body.pipeTo(digest);
  return [...new Uint8Array(await digest.digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function fileName(format: OrganizationExport['format'], entity: ExportEntity): string {
  return format === 'json' ? JSON_FILE : `${entity.name}.csv`;
}

/**
 * One step of an export (the `export.step` queue message): from where the previous step stopped, writes the next
 * part of the current file (at least EXPORT_PART_BYTES unless the file ends: keyset pages of EXPORT_PAGE_ROWS rows,
 * one database round trip each), uploads it as a part of the file's R2 multipart upload, completes the file when its
 * last entity ends (then reads it back once through a digest stream for its SHA-256), and moves the job on with a
 * conditional update (`step = n`): a message whose step is not the row's current one, a job already finished and a
 * step that lost the race to a duplicate all change nothing. Then it enqueues step n + 1, or, when the last entity is
 * written, marks the export completed (audited) and emails the requester. Memory: one part and one page.
 */
export async function runExportStep(deps: ExportJobDeps, organizationId: string, input: ExportStepPayload) {
  const { db, bindings, logger } = deps;
  const scope = { organizationId };
  const [[job], header] = await scoped(db, scope, [
    db
      .select()
      .from(organizationExports)
      .where(and(eq(organizationExports.organizationId, organizationId), eq(organizationExports.id, input.exportId))),
    organizationQuery(db, organizationId),
  ]);
  const organization = header.rows[0];
  if (job === undefined || job.step !== input.step || (job.status !== 'queued' && job.status !== 'running')) {
    logger.info('export step skipped', { exportId: input.exportId, step: input.step });
    return;
  }
  const bucket = bindings.FILES;
  const started = Date.now();
  const state: ExportState = structuredClone(job.state);
  const files: ExportFile[] = [...job.files];
  let rowsWritten = job.rowsWritten;
  let entitiesDone = job.entitiesDone;
  let finished = false;
  const out = new PartBuffer();
  const json = job.format === 'json';

  let entity = EXPORT_ENTITIES[state.entity];
  if (entity === undefined) throw new Error('export state past its last entity');
  let file = state.upload;
  if (file === null) {
    const key = exportObjectKey(organizationId, job.id, fileName(job.format, entity));
    const created = await bucket.createMultipartUpload(key, {
      httpMetadata: { contentType: exportContentType(key) },
      customMetadata: { organizationId, exportId: job.id },
    });
    file = { key, uploadId: created.uploadId, parts: [] };
    state.upload = file;
    if (json) {
      out.push(
        `{"format":"eventra.organization-export","version":1,"exportId":${JSON.stringify(job.id)},` +
          `"exportedAt":${JSON.stringify(job.createdAt.toISOString())},"organization":${organization?.doc ?? 'null'},\n`,
      );
    }
  }
  const upload = bucket.resumeMultipartUpload(file.key, file.uploadId);
  const parts = file.parts;
  const carried = await bucket.get(carryKey(organizationId, job.id, input.step));
  if (carried !== null) out.pushBytes(new Uint8Array(await carried.arrayBuffer()));
  /** Uploads every full part the buffer holds (each exactly EXPORT_PART_BYTES). */
  const uploadFullParts = async () => {
    while (out.bytes >= EXPORT_PART_BYTES) {
      parts.push(await upload.uploadPart(parts.length + 1, out.take(EXPORT_PART_BYTES)));
    }
  };

  for (;;) {
    if (state.cursor === null && state.entityRows === 0) {
      out.push(json ? `${JSON.stringify(entity.name)}:[` : csvHeader(entity));
    }
    const [page] = await scoped(db, scope, [entityPage(db, organizationId, entity, state.cursor, EXPORT_PAGE_ROWS)]);
    const rows = entityRows(entity, page.rows);
    for (const row of rows) {
      out.push(json ? `${state.entityRows > 0 ? ',' : ''}\n${row.doc}` : csvRecord(entity, row.doc));
      state.entityRows += 1;
      rowsWritten += 1;
    }
    const last = rows.at(-1);
    if (last !== undefined) state.cursor = last.keys;
    if (rows.length === EXPORT_PAGE_ROWS) {
      if (out.bytes >= EXPORT_PART_BYTES) break;
      continue;
    }
    // The entity ends here.
    entitiesDone += 1;
    const lastEntity = state.entity === EXPORT_ENTITIES.length - 1;
    if (json) out.push(lastEntity ? '\n]}\n' : '\n],\n');
    if (!json || lastEntity) {
      await uploadFullParts();
      if (out.bytes > 0 || parts.length === 0) parts.push(await upload.uploadPart(parts.length + 1, out.take()));
      const object = await upload.complete(parts);
      files.push({
        name: fileName(job.format, entity),
        entity: json ? null : entity.name,
        rows: json ? rowsWritten : state.entityRows,
        sizeBytes: object.size,
        sha256: await sha256Of(bucket, file.key),
      });
      state.upload = null;
    }
    state.entity += 1;
    state.cursor = null;
    state.entityRows = 0;
    const next = EXPORT_ENTITIES[state.entity];
    if (next === undefined) {
      finished = true;
      break;
    }
    entity = next;
    // A CSV file ends with its entity: the next step opens the next file.
    if (!json || out.bytes >= EXPORT_PART_BYTES) break;
  }
  if (state.upload !== null) {
    await uploadFullParts();
    if (out.bytes > 0) await bucket.put(carryKey(organizationId, job.id, input.step + 1), out.take());
  }

  const moved = db
    .update(organizationExports)
    .set({
      step: sql`${organizationExports.step} + 1`,
      status: finished ? 'completed' : 'running',
      state,
      files,
      rowsWritten,
      entitiesDone,
      startedAt: sql`coalesce(${organizationExports.startedAt}, now())`,
      ...(finished
        ? { completedAt: sql`now()`, sizeBytes: files.reduce((total, file) => total + file.sizeBytes, 0) }
        : {}),
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(organizationExports.organizationId, organizationId),
        eq(organizationExports.id, job.id),
        eq(organizationExports.step, input.step),
        inArray(organizationExports.status, ['queued', 'running']),
      ),
    )
    .returning({ id: organizationExports.id });
  logger.debug('export step', {
    exportId: job.id,
    step: input.step,
    entity: state.entity,
    rowsWritten,
    parts: state.upload?.parts.length ?? null,
    milliseconds: Date.now() - started,
  });
  // The carry this step read is spent once the step is recorded (a retry before that reads it again).
  const dropCarry = () =>
    carried === null ? Promise.resolve() : bucket.delete(carryKey(organizationId, job.id, input.step));
  if (!finished) {
    const [updated] = await scoped(db, scope, [moved]);
    if (updated.length === 0) return;
    await dropCarry();
    await bindings.EXPORT_QUEUE.send(exportStepMessage(organizationId, job.id, input.step + 1), {
      contentType: 'json',
    });
    return;
  }
  const [updated, , [requester], [branding]] = await scoped(db, scope, [
    moved,
    auditInsert(db, SYSTEM_CLIENT, {
      organizationId,
      actor: { type: 'system' },
      action: 'organization.export_completed',
      target: { type: 'organization_export', id: job.id },
      metadata: { format: job.format, rows: rowsWritten, files: files.length },
    }),
    db
      .select({ email: users.email })
      .from(users)
      .where(job.requestedBy === null ? sql`false` : eq(users.id, job.requestedBy)),
    brandingQuery(db, organizationId),
  ]);
  if (updated.length === 0) return;
  await dropCarry();
  if (requester === undefined || branding === undefined) return;
  const slug = z.object({ slug: z.string() }).parse(JSON.parse(organization?.doc ?? '{}')).slug;
  const url = `${originOnHost(null, `${slug}.${bindings.ROOT_DOMAIN}`, bindings)}/api/v1/exports/${job.id}`;
  const message = exportReadyEmail({
    id: `export-ready:${job.id}`,
    to: requester.email,
    branding: emailBranding(branding),
    url,
    expiresAt: job.expiresAt,
  });
  await bindings.EMAIL_QUEUE.send(emailEnvelope(message, organizationId), { contentType: 'json' });
}

/** The `export.step` handler's payload check (a malformed payload is retried and dead-lettered). */
export function exportStepPayload(message: QueueMessage): { organizationId: string; payload: ExportStepPayload } {
  const payload = ExportStepPayloadSchema.parse(message.payload);
  if (message.organizationId === null) throw new Error('export step without organization');
  return { organizationId: message.organizationId, payload };
}
