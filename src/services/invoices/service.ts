import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { bookings, invoiceSettings, invoices, type Invoice } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { callFeatureWorker } from '../../lib/feature-workers.ts';
import { auditInsert } from '../audit/record.ts';
import { hashToken } from '../auth/tokens.ts';
import { actorOf } from '../events/shared.ts';

export interface InvoiceSettingsView {
  legalName: string;
  address: string;
  taxId: string;
  prefix: string;
  /** The sequence number the next invoice or credit note takes. */
  nextNumber: number;
}

export interface InvoiceSettingsInput {
  legalName?: string | undefined;
  address?: string | undefined;
  taxId?: string | undefined;
  prefix?: string | undefined;
}

const DEFAULTS: InvoiceSettingsView = { legalName: '', address: '', taxId: '', prefix: 'INV-', nextNumber: 1 };

function toView(row: typeof invoiceSettings.$inferSelect | undefined): InvoiceSettingsView {
  if (row === undefined) return DEFAULTS;
  return {
    legalName: row.legalName,
    address: row.address,
    taxId: row.taxId,
    prefix: row.prefix,
    nextNumber: row.nextNumber,
  };
}

function selectSettings(db: Database, organizationId: string) {
  return db.select().from(invoiceSettings).where(eq(invoiceSettings.organizationId, organizationId)).limit(1);
}

/** GET /organization/invoice-settings: one round trip. */
export async function getInvoiceSettings({ ctx }: { ctx: ServiceContext }): Promise<InvoiceSettingsView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [selectSettings(db, tenant.id)]);
  return toView(row);
}

/**
 * PUT /organization/invoice-settings: the given fields change, the others keep their value; the counter is never
 * set from outside (numbers stay gap-free). One round trip: the upsert and its `invoice_settings.updated` audit row
 * (naming the given fields).
 */
export async function updateInvoiceSettings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: InvoiceSettingsInput;
}): Promise<InvoiceSettingsView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const set: Partial<typeof invoiceSettings.$inferInsert> = {};
  if (input.legalName !== undefined) set.legalName = input.legalName;
  if (input.address !== undefined) set.address = input.address;
  if (input.taxId !== undefined) set.taxId = input.taxId;
  if (input.prefix !== undefined) set.prefix = input.prefix;
  const [[row]] = await scoped(db, { organizationId }, [
    db
      .insert(invoiceSettings)
      .values({ organizationId, ...set })
      .onConflictDoUpdate({ target: invoiceSettings.organizationId, set: { ...set, updatedAt: sql`now()` } })
      .returning(),
    auditInsert(db, ctx.client, {
      organizationId,
      actor: actorOf(ctx),
      action: 'invoice_settings.updated',
      target: { type: 'organization', id: organizationId },
      metadata: { changed: Object.keys(set) },
    }),
  ]);
  return toView(row);
}

/** Where an invoice's PDF is kept in R2: unguessable (the random `pdfToken` is never returned). */
export function pdfKey(invoice: Pick<Invoice, 'organizationId' | 'id' | 'pdfToken'>): string {
  return `invoices/${invoice.organizationId}/${invoice.id}/${invoice.pdfToken}.pdf`;
}

/**
 * The PDF of a stored invoice: read from R2, or rendered from the invoice row (by the PDF renderer Worker, over the
 * PDF_RENDERER service binding) and stored there when it is not yet (the first download renders it; every later one
 * reads the same bytes).
 */
export async function invoicePdf(ctx: ServiceContext, invoice: Invoice): Promise<Uint8Array> {
  const bucket = ctx.bindings.FILES;
  const key = pdfKey(invoice);
  const stored = await bucket.get(key);
  if (stored !== null) return new Uint8Array(await stored.arrayBuffer());
  // Nothing is stored when the renderer fails (503), so the next download renders again.
  const bytes = await callFeatureWorker(
    ctx,
    'PDF_RENDERER',
    () => ctx.bindings.PDF_RENDERER.render(invoice),
    'The PDF cannot be rendered right now.',
  );
  await bucket.put(key, bytes, {
    httpMetadata: { contentType: 'application/pdf' },
    customMetadata: { number: invoice.number, kind: invoice.kind },
  });
  return bytes;
}

function invoiceNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'This booking has no invoice (free, unpaid, or not found).' });
}

export interface InvoiceDocument {
  invoice: Invoice;
  pdf: Uint8Array;
}

/**
 * The invoice of a booking (`kind = invoice`), or with `refundId` the credit note of that refund, for staff (`token`
 * undefined) or for its buyer (the booking token, compared as SHA-256 in SQL: a wrong token is the same 404 as an
 * unknown booking). One database round trip, then R2.
 */
export async function bookingInvoice(
  ctx: ServiceContext,
  input: { bookingId: string; refundId?: string | undefined; token?: string | undefined },
): Promise<InvoiceDocument> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const bookingId = input.bookingId.toLowerCase();
  const conditions: SQL[] = [eq(invoices.organizationId, organizationId), eq(invoices.bookingId, bookingId)];
  if (input.refundId === undefined) {
    conditions.push(eq(invoices.kind, 'invoice'));
  } else {
    conditions.push(eq(invoices.kind, 'credit_note'), eq(invoices.refundId, input.refundId.toLowerCase()));
  }
  if (input.token !== undefined) {
    const tokenHash = await hashToken(input.token);
    conditions.push(sql`exists (select 1 from ${bookings} b where b.organization_id = ${organizationId}
      and b.id = ${bookingId} and b.token_hash = ${tokenHash})`);
  }
  const [[invoice]] = await scoped(db, { organizationId }, [
    db
      .select()
      .from(invoices)
      .where(and(...conditions))
      .limit(1),
  ]);
  if (invoice === undefined) {
    throw input.refundId === undefined
      ? invoiceNotFound()
      : new ApiError('not_found', { detail: 'This refund has no credit note (no invoice, or not found).' });
  }
  return { invoice, pdf: await invoicePdf(ctx, invoice) };
}
