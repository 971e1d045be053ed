import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';

/** A line of printable text (no control characters). */
const LINE = WITHOUT_CONTROL_CHARACTERS;
/** Lines of printable text separated by newlines: each line without control characters. */
const LINES = { test: (value: string) => value.split('\n').every((line) => LINE.test(line)) };

const fields = {
  legalName: z.string().max(200).regex(LINE, 'One line, no control characters.').openapi({
    description: 'The legal name printed as the seller (up to 200 characters).',
    example: 'Acme Events GmbH',
  }),
  address: z
    .string()
    .max(500)
    .refine((value) => LINES.test(value), 'Lines separated by \\n, no other control characters.')
    .refine((value) => value.split('\n').length <= 6, 'At most 6 lines.')
    .openapi({
      description: 'The postal address, up to 6 lines separated by `\\n` (up to 500 characters).',
      example: 'Hauptstr. 1\n10115 Berlin\nGermany',
    }),
  taxId: z
    .string()
    .max(50)
    .regex(/^[A-Za-z0-9 .\-/]*$/, 'Letters, digits, spaces and . - / only.')
    .openapi({ description: 'The tax (VAT) identification number, or empty.', example: 'DE123456789' }),
  prefix: z
    .string()
    .max(20)
    .regex(/^[A-Za-z0-9._/-]*$/, 'Letters, digits and . _ / - only.')
    .openapi({ description: 'Put before the zero-padded sequence number (default `INV-`).', example: 'ACME-' }),
};

export const InvoiceSettingsSchema = z
  .object({
    legalName: fields.legalName,
    address: fields.address,
    taxId: fields.taxId,
    prefix: fields.prefix,
    nextNumber: z.number().int().min(1).max(2147483647).openapi({
      format: 'int32',
      description: 'The sequence number the next invoice or credit note takes (read-only).',
      example: 42,
    }),
  })
  .openapi('InvoiceSettings', { description: "The organization's invoice details and counter." });

export const InvoiceSettingsUpdateSchema = z
  .object({
    legalName: fields.legalName.optional(),
    address: fields.address.optional(),
    taxId: fields.taxId.optional(),
    prefix: fields.prefix.optional(),
  })
  .strict()
  .openapi('InvoiceSettingsUpdate', { description: 'The fields to change; the others keep their value.' });

export const PdfSchema = z.string().max(10_000_000).openapi({ format: 'binary', description: 'The PDF document.' });

export const PDF_HEADERS = {
  'Content-Disposition': {
    description: 'attachment; filename="<number>.pdf"',
    schema: { type: 'string' as const, maxLength: 100 },
  },
  'X-Content-Type-Options': { description: 'nosniff', schema: { type: 'string' as const, maxLength: 10 } },
};
