import { and, inArray, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { organizationExports } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import type { Logger } from '../../lib/logger.ts';
import { exportStepMessage } from './job.ts';

/** A job whose step has not moved for this long gets its current step enqueued again (a lost or dead message). */
export const EXPORT_RESEND_AFTER_SECONDS = 2 * 60;
/** A job that has not moved for this long is failed, and its partial upload aborted. */
export const EXPORT_FAIL_AFTER_SECONDS = 30 * 60;
/** Jobs handled per sweep and kind (the rest wait for the next minute). */
const SWEEP_BATCH = 50;

export interface ExportSweepResult {
  resent: number;
  failed: number;
  expired: number;
}

async function deleteFiles(bucket: R2Bucket, organizationId: string, exportId: string): Promise<void> {
  const listed = await bucket.list({ prefix: `exports/${organizationId}/${exportId}/` });
  if (listed.objects.length > 0) await bucket.delete(listed.objects.map((object) => object.key));
}

/**
 * The export part of the scheduled handler (every minute), across organizations (platform scope): jobs stalled for
 * EXPORT_RESEND_AFTER_SECONDS get their current step enqueued again (a duplicate is harmless: only the message of the
 * row's current step acts, once); jobs stalled for EXPORT_FAIL_AFTER_SECONDS are marked failed and their multipart
 * upload aborted; exports past `expires_at` (EXPORT_RETENTION_DAYS after creation) lose their R2 files, then their
 * row. One database round trip, a second when something expired.
 */
export async function sweepExports(db: Database, bindings: Bindings, logger: Logger): Promise<ExportSweepResult> {
  const active = inArray(organizationExports.status, ['queued', 'running']);
  const [failed, stalled, expired] = await scoped(db, { platform: true }, [
    db
      .update(organizationExports)
      .set({ status: 'failed', error: 'The export stopped making progress.', updatedAt: sql`now()` })
      .where(
        and(
          active,
          lt(organizationExports.updatedAt, sql`now() - make_interval(secs => ${EXPORT_FAIL_AFTER_SECONDS})`),
        ),
      )
      .returning({
        id: organizationExports.id,
        organizationId: organizationExports.organizationId,
        state: organizationExports.state,
      }),
    db
      .select({
        id: organizationExports.id,
        organizationId: organizationExports.organizationId,
        step: organizationExports.step,
      })
      .from(organizationExports)
      .where(
        and(
          active,
          lt(organizationExports.updatedAt, sql`now() - make_interval(secs => ${EXPORT_RESEND_AFTER_SECONDS})`),
          sql`${organizationExports.updatedAt} >= now() - make_interval(secs => ${EXPORT_FAIL_AFTER_SECONDS})`,
        ),
      )
      .limit(SWEEP_BATCH),
    db
      .select({
        id: organizationExports.id,
        organizationId: organizationExports.organizationId,
        state: organizationExports.state,
      })
      .from(organizationExports)
      .where(lt(organizationExports.expiresAt, sql`now()`))
      .limit(SWEEP_BATCH),
  ]);
  for (const job of stalled) {
    await bindings.EXPORT_QUEUE.send(exportStepMessage(job.organizationId, job.id, job.step), { contentType: 'json' });
  }
  for (const job of [...failed, ...expired]) {
    const upload = job.state.upload;
    if (upload !== null) {
      await bindings.FILES.resumeMultipartUpload(upload.key, upload.uploadId)
        .abort()
        .catch((error: unknown) => {
          logger.warn('export upload abort failed', { exportId: job.id, error });
        });
    }
    await deleteFiles(bindings.FILES, job.organizationId, job.id);
  }
  // The rows go once their files are gone: a failure above leaves them for the next sweep.
  if (expired.length > 0) {
    await scoped(db, { platform: true }, [
      db.delete(organizationExports).where(
        inArray(
          organizationExports.id,
          expired.map((job) => job.id),
        ),
      ),
    ]);
  }
  const result = { resent: stalled.length, failed: failed.length, expired: expired.length };
  if (result.resent + result.failed + result.expired > 0) logger.info('export sweep', { ...result });
  return result;
}
