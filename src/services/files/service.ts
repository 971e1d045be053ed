import { and, eq, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { events, files, organizations, type StoredFile } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { eventData, organizationData } from '../outbox/views.ts';
import { abortLabel, actorOf, eventNotFound, GUARD_LABEL_PREFIX, mustChange } from '../events/shared.ts';
import { effectivePlan } from '../plans/catalogue.ts';
import { isPlanLimit } from '../plans/quotas.ts';
import type { Tenant } from '../tenants/types.ts';
import { imageExtension, type CheckedImage } from './images.ts';
import { knownFlags } from '../flags/cache.ts';

/** Where an image belongs: the organization's logo, or the cover of one of its events. */
export type ImagePlace = { kind: 'logo' } | { kind: 'cover'; eventId: string };

export interface ImageView {
  url: string;
  contentType: string;
  sizeBytes: number;
  width: number;
  height: number;
  etag: string;
  createdAt: string;
}

function slotOf(place: ImagePlace): string {
  return place.kind === 'logo' ? 'logo' : `cover:${place.eventId}`;
}

function pathOf(place: ImagePlace): string {
  return place.kind === 'logo' ? '/api/v1/organization/logo' : `/api/v1/events/${place.eventId}/cover`;
}

/**
 * The absolute URL of an image, versioned by the stored file's id (a new upload is a new URL, so caches never serve
 * the old image for it). Always https: the tenant host as the request reached it.
 */
function imageUrl(ctx: ServiceContext, place: ImagePlace, fileId: string): string {
  const host = ctx.origin === null ? requireTenant(ctx).slug : new URL(ctx.origin).host;
  return `https://${host}${pathOf(place)}?v=${fileId}`;
}

function imageNotFound(place: ImagePlace): ApiError {
  return place.kind === 'logo'
    ? new ApiError('not_found', { detail: 'This organization has no logo.' })
    : new ApiError('not_found', { detail: 'No event with this id, or it has no cover image.' });
}

/** The 403 `plan_limit` problem of the storage limit (extension members `plan`, `quota`, `limit`). */
function storageLimitError(tenant: Tenant): ApiError {
  const { plan, storageBytes } = effectivePlan(tenant, knownFlags());
  return new ApiError('plan_limit', {
    detail: `The ${plan} plan allows ${String(storageBytes)} bytes of uploaded images; delete an image or upgrade the plan.`,
    extensions: { plan, quota: 'storageBytes', limit: storageBytes },
  });
}

/**
 * The quota statement of an upload: aborts the batch with the `plan_limit` guard when the organization's other images
 * plus this one would pass the plan's `storageBytes` (the image it replaces does not count). Runs after the lock of
 * the organization's row, so concurrent uploads of one organization are counted one after the other.
 */
function storageGuard(db: Database, tenant: Tenant, slot: string, sizeBytes: number) {
  const limit = effectivePlan(tenant, knownFlags()).storageBytes;
  if (limit === null) return db.execute(sql`select 0 as guard`);
  return db.execute(sql`select (case when coalesce((select sum(${files.sizeBytes}) from ${files}
      where ${files.organizationId} = ${tenant.id} and ${files.slot} <> ${slot}), 0) + ${sizeBytes} <= ${limit}
      then '0' else ${GUARD_LABEL_PREFIX + 'plan_limit'} end)::int as guard`);
}

/**
 * The outbox row of an image change: `event.updated` for a cover (its `coverImageUrl` changed; the dispatch also moves
 * the public catalogue's cache version, so the public event detail shows the new URL at once), `organization.updated`
 * for the logo (`branding.logoUrl`). Webhook endpoints see both.
 */
function imageChanged(db: Database, organizationId: string, eventId: string | null) {
  return eventId === null
    ? outboxInsertSelect(db, { organizationId, type: 'organization.updated', data: organizationData(organizationId) })
    : outboxInsertSelect(db, { organizationId, type: 'event.updated', data: eventData(organizationId, eventId) });
}

/**
 * PUT /organization/logo and /events/{id}/cover: stores the checked image in R2 under a key the Worker makes
 * (`images/<organization>/<kind>/<uuid>.<ext>`), then ONE database round trip: the organization's row locked, the
 * storage quota checked, the previous image's key read, the `files` row upserted (a cover only if the event is the
 * organization's), the image URL set on the event (`coverImageUrl`) or in the branding (`logoUrl`), the audit
 * row and the outbox row (`event.updated` for a cover, `organization.updated` for the logo). When the batch fails (quota, unknown event) the new object is deleted; when it succeeds the replaced one is.
 */
export async function uploadImage(
  ctx: ServiceContext,
  input: { place: ImagePlace; bytes: Uint8Array; image: CheckedImage },
): Promise<ImageView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const bucket = ctx.bindings.FILES;
  const { place, bytes, image } = input;
  const organizationId = tenant.id;
  const slot = slotOf(place);
  const id = crypto.randomUUID();
  const objectKey = `images/${organizationId}/${place.kind}/${id}.${imageExtension(image.type)}`;
  const stored = await bucket.put(objectKey, bytes, {
    httpMetadata: { contentType: image.type },
    customMetadata: { organizationId, slot },
  });
  const url = imageUrl(ctx, place, id);
  const eventId = place.kind === 'cover' ? place.eventId : null;
  const createdBy = ctx.principal?.userId ?? null;
  const source =
    eventId === null
      ? sql`select ${organizationId}::uuid, 'logo'::file_kind, null::uuid`
      : sql`select ${organizationId}::uuid, 'cover'::file_kind, e.id from ${events} e
          where e.organization_id = ${organizationId} and e.id = ${eventId}`;
  let previous: { objectKey: string }[];
  try {
    [, , previous] = await scoped(db, { organizationId }, [
      db.execute(sql`select 1 as quota_lock from ${organizations} where id = ${organizationId} for no key update`),
      storageGuard(db, tenant, slot, bytes.byteLength),
      db
        .select({ objectKey: files.objectKey })
        .from(files)
        .where(and(eq(files.organizationId, organizationId), eq(files.slot, slot))),
      mustChange(
        db,
        sql`(insert into ${files} (id, organization_id, kind, event_id, slot, object_key,
          content_type, size_bytes, width, height, etag, created_by)
        select ${id}::uuid, s.*, ${slot}, ${objectKey}, ${image.type}, ${bytes.byteLength}, ${image.width},
          ${image.height}, ${stored.httpEtag}, ${createdBy}::uuid from (${source}) s
        on conflict (organization_id, slot) do update set id = excluded.id, object_key = excluded.object_key,
          content_type = excluded.content_type, size_bytes = excluded.size_bytes, width = excluded.width,
          height = excluded.height, etag = excluded.etag, created_by = excluded.created_by, created_at = now()
        returning id)`,
        'no_event',
      ),
      eventId === null
        ? db
            .update(organizations)
            .set({ branding: sql`${organizations.branding} || jsonb_build_object('logoUrl', ${url}::text)` })
            .where(eq(organizations.id, organizationId))
        : db
            .update(events)
            .set({ coverImageUrl: url, updatedAt: sql`now()` })
            .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId))),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: place.kind === 'logo' ? 'organization.logo_uploaded' : 'event.cover_uploaded',
        target: eventId === null ? { type: 'organization', id: organizationId } : { type: 'event', id: eventId },
        metadata: { contentType: image.type, sizeBytes: bytes.byteLength, width: image.width, height: image.height },
      }),
      imageChanged(db, organizationId, eventId),
    ]);
  } catch (error) {
    await bucket.delete(objectKey);
    if (isPlanLimit(error)) throw storageLimitError(tenant);
    if (abortLabel(error) === 'no_event') throw eventNotFound();
    throw error;
  }
  notifyOutbox(ctx, organizationId);
  const old = previous[0]?.objectKey;
  if (old !== undefined && old !== objectKey) await bucket.delete(old);
  return {
    url,
    contentType: image.type,
    sizeBytes: bytes.byteLength,
    width: image.width,
    height: image.height,
    etag: stored.httpEtag,
    createdAt: new Date().toISOString(),
  };
}

/** Whether a stored URL is one `imageUrl` made for this place (an external URL set by hand is left alone). */
function isUploadedUrl(column: SQL | AnyColumn, place: ImagePlace): SQL {
  return sql`${column} like ${'https://%' + pathOf(place) + '?v=%'}`;
}

/**
 * DELETE /organization/logo and /events/{id}/cover: one database round trip (the stored key read, the `files` row
 * deleted or 404 with nothing written, the URL removed from the branding or the event when it is still the uploaded
 * image's, the audit row, the outbox row), then the R2 object deleted.
 */
export async function deleteImage(ctx: ServiceContext, place: ImagePlace): Promise<void> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const slot = slotOf(place);
  const mine = and(eq(files.organizationId, organizationId), eq(files.slot, slot));
  let stored: { objectKey: string }[];
  try {
    [stored] = await scoped(db, { organizationId }, [
      db.select({ objectKey: files.objectKey }).from(files).where(mine),
      mustChange(db, db.delete(files).where(mine).returning({ id: files.id }), 'no_image'),
      place.kind === 'logo'
        ? db
            .update(organizations)
            .set({ branding: sql`${organizations.branding} - 'logoUrl'` })
            .where(
              and(
                eq(organizations.id, organizationId),
                isUploadedUrl(sql`${organizations.branding}->>'logoUrl'`, place),
              ),
            )
        : db
            .update(events)
            .set({ coverImageUrl: null })
            .where(
              and(
                eq(events.organizationId, organizationId),
                eq(events.id, place.eventId),
                isUploadedUrl(events.coverImageUrl, place),
              ),
            ),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: place.kind === 'logo' ? 'organization.logo_deleted' : 'event.cover_deleted',
        target:
          place.kind === 'logo' ? { type: 'organization', id: organizationId } : { type: 'event', id: place.eventId },
      }),
      imageChanged(db, organizationId, place.kind === 'cover' ? place.eventId : null),
    ]);
  } catch (error) {
    if (abortLabel(error) === 'no_image') throw imageNotFound(place);
    throw error;
  }
  notifyOutbox(ctx, organizationId);
  const key = stored[0]?.objectKey;
  if (key !== undefined) await ctx.bindings.FILES.delete(key);
}

export interface ImageDownload {
  file: StoredFile;
  /** The R2 object's body; null when the caller's `If-None-Match` matched (304). */
  body: ReadableStream | null;
}

/**
 * GET /organization/logo and /events/{id}/cover: the `files` row in one database round trip (a cover only while its
 * event is published, unless `staff`), then the R2 object, unless `ifNoneMatch` names the stored etag (304, no R2
 * read). 404 for no image, an event of another organization, or a cover of an unpublished event read publicly.
 */
export async function readImage(
  ctx: ServiceContext,
  input: { place: ImagePlace; staff: boolean; ifNoneMatch: string | undefined },
): Promise<ImageDownload> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const { place } = input;
  const conditions = [eq(files.organizationId, tenant.id), eq(files.slot, slotOf(place))];
  if (place.kind === 'cover' && !input.staff) {
    conditions.push(
      sql`exists (select 1 from ${events} e where e.organization_id = ${tenant.id} and e.id = ${place.eventId}
        and e.status = 'published')`,
    );
  }
  const [[file]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(files)
      .where(and(...conditions))
      .limit(1),
  ]);
  if (file === undefined) throw imageNotFound(place);
  if (input.ifNoneMatch !== undefined && etagMatches(input.ifNoneMatch, file.etag)) return { file, body: null };
  const object = await ctx.bindings.FILES.get(file.objectKey);
  if (object === null) {
    ctx.logger.error('image object missing from R2', { slot: file.slot, fileId: file.id });
    throw imageNotFound(place);
  }
  return { file, body: object.body };
}

/** Whether an If-None-Match header (a list, weak or strong, or `*`) names the etag. */
function etagMatches(header: string, etag: string): boolean {
  const bare = (value: string) => value.trim().replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim() === '*' || bare(candidate) === bare(etag));
}
