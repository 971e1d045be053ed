import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { bookings } from './bookings.ts';
import { organizations } from './organizations.ts';

/**
 * Issue #18 part 4. An organization's legal details printed on its invoices, and its invoice counter: `nextNumber`
 * is the sequence number the next invoice or credit note takes. The row is created by the first PUT of the settings
 * or by the first invoice (with empty details and the default prefix).
 */
export const invoiceSettings = pgTable(
  'invoice_settings',
  {
    organizationId: uuid().primaryKey(),
    legalName: text().notNull().default(''),
    address: text().notNull().default(''),
    taxId: text().notNull().default(''),
    prefix: text().notNull().default('INV-'),
    nextNumber: integer().notNull().default(1),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    check('invoice_settings_next_number', sql`${table.nextNumber} >= 1`),
  ],
);

export interface InvoiceLine {
  description: string;
  quantity: number;
  unitPrice: number;
  /** Basis points; null on a credit note's line. */
  taxRate: number | null;
  net: number;
  tax: number;
  gross: number;
}

export interface InvoiceSeller {
  legalName: string;
  address: string;
  taxId: string;
}

/**
 * An invoice (one per paid booking, issued in the batch that confirms it) or a credit note (one per refund, in the
 * refund's batch). Invoices and credit notes share the organization's one gap-free sequence. Everything printed is
 * a snapshot taken at issue (seller details, buyer, lines), so the document never changes afterwards. The PDF is
 * stored in R2 under `invoices/<organization>/<id>/<pdfToken>.pdf` (`pdfToken` random, never returned).
 */
export const invoices = pgTable(
  'invoices',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    bookingId: uuid().notNull(),
    kind: text().$type<'invoice' | 'credit_note'>().notNull(),
    sequence: integer().notNull(),
    number: text().notNull(),
    refundId: uuid(),
    currency: text().notNull(),
    net: integer().notNull(),
    tax: integer().notNull(),
    gross: integer().notNull(),
    lines: jsonb().$type<InvoiceLine[]>().notNull(),
    seller: jsonb().$type<InvoiceSeller>().notNull(),
    buyerName: text().notNull(),
    buyerEmail: text().notNull(),
    pdfToken: uuid().notNull().defaultRandom(),
    issuedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.bookingId],
      foreignColumns: [bookings.organizationId, bookings.id],
    }).onDelete('cascade'),
    unique('invoices_organization_id_sequence_key').on(table.organizationId, table.sequence),
    // One invoice per booking (credit notes: one per refund).
    uniqueIndex('invoices_booking_invoice_idx')
      .on(table.organizationId, table.bookingId)
      .where(sql`${table.kind} = 'invoice'`),
    uniqueIndex('invoices_refund_id_idx').on(table.organizationId, table.refundId),
    check('invoices_kind', sql`${table.kind} in ('invoice', 'credit_note')`),
    check('invoices_amounts', sql`${table.net} + ${table.tax} = ${table.gross}`),
  ],
);

export type Invoice = typeof invoices.$inferSelect;
