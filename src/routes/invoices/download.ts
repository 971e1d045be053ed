import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { publicRead } from '../../services/catalogue/limits.ts';
import { bookingInvoice, type InvoiceDocument } from '../../services/invoices/service.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { Uuid } from '../fields.ts';
import { PublicBookingHeadersSchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { PDF_HEADERS, PdfSchema } from './schema.ts';

const RENDERING =
  'The PDF is rendered with pdf-lib on the first download (from the invoice as issued: seller details, buyer and ' +
  'lines are a snapshot taken when the booking was confirmed) and kept in R2 under an unguessable key; later ' +
  'downloads return the same file. Sent as an attachment (`Content-Type: application/pdf`, `Content-Disposition: ' +
  'attachment`, `X-Content-Type-Options: nosniff`, `Cache-Control: no-store`).';

export const staffRoute = createRoute({
  method: 'get',
  path: '/api/v1/bookings/{id}/invoice',
  operationId: 'getBookingInvoice',
  tags: ['Invoices'],
  summary: "Download a booking's invoice (PDF)",
  description:
    'The invoice of a paid booking, issued when it was confirmed (manually or by Stripe). Free bookings get no ' +
    'invoice: 404, as for an unknown booking or one of another organization. ' +
    RENDERING +
    ' Needs `bookings:read`. One database round trip, plus R2.',
  security: [{ bearerAuth: [] }],
  request: { params: BookingIdParamsSchema },
  middleware: [requirePermission('bookings:read')] as const,
  responses: {
    200: {
      description: 'The invoice PDF.',
      headers: PDF_HEADERS,
      content: { 'application/pdf': { schema: PdfSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const publicRoute = createRoute({
  method: 'get',
  path: '/api/v1/public/bookings/{id}/invoice',
  operationId: 'getPublicBookingInvoice',
  tags: ['Public'],
  summary: "Download a booking's invoice (the buyer)",
  description:
    "The buyer's copy of the invoice of a paid booking, reached with the booking's secret token in the " +
    '`Booking-Token` request header (never in the URL). A missing or malformed token answers 400; a wrong token, ' +
    'an unknown booking and a booking without invoice (free, or not paid yet) all answer 404. ' +
    RENDERING +
    ' No authentication; rate limited per client address (429 with Retry-After). One database round trip and one ' +
    'Redis round trip, plus R2.',
  security: [{ bookingToken: [] }],
  request: { params: BookingIdParamsSchema, headers: PublicBookingHeadersSchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The invoice PDF.',
      headers: PDF_HEADERS,
      content: { 'application/pdf': { schema: PdfSchema } },
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

const RefundParamsSchema = BookingIdParamsSchema.extend({
  refundId: Uuid.openapi({
    param: { name: 'refundId', in: 'path' },
    description: "The refund's id (a UUID; anything else answers 400), as the booking's `refunds` list it.",
    example: '4d3c2b1a-0f9e-4d8c-b7a6-5e4f3a2b1c0d',
  }),
});

export const staffCreditNoteRoute = createRoute({
  method: 'get',
  path: '/api/v1/bookings/{id}/refunds/{refundId}/credit-note',
  operationId: 'getRefundCreditNote',
  tags: ['Invoices'],
  summary: "Download a refund's credit note (PDF)",
  description:
    'The credit note issued for a refund of an invoiced booking (in the same batch that recorded the refund, or the ' +
    "pending-refund sweep that finished it), numbered in the invoices' sequence. A refund of a booking without " +
    "invoice, an unknown refund or booking and another organization's all answer 404. " +
    RENDERING +
    ' Needs `bookings:read`. One database round trip, plus R2.',
  security: [{ bearerAuth: [] }],
  request: { params: RefundParamsSchema },
  middleware: [requirePermission('bookings:read')] as const,
  responses: {
    200: {
      description: 'The credit note PDF.',
      headers: PDF_HEADERS,
      content: { 'application/pdf': { schema: PdfSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const publicCreditNoteRoute = createRoute({
  method: 'get',
  path: '/api/v1/public/bookings/{id}/refunds/{refundId}/credit-note',
  operationId: 'getPublicRefundCreditNote',
  tags: ['Public'],
  summary: "Download a refund's credit note (the buyer)",
  description:
    "The buyer's copy of a refund's credit note, reached with the booking's secret token in the `Booking-Token` " +
    "request header (never in the URL); the buyer's booking view links it under `refunds[].creditNote.url`. A " +
    'missing or malformed token answers 400; a wrong token, an unknown booking or refund and a refund without credit ' +
    'note all answer 404. ' +
    RENDERING +
    ' No authentication; rate limited per client address (429 with Retry-After). One database round trip and one ' +
    'Redis round trip, plus R2.',
  security: [{ bookingToken: [] }],
  request: { params: RefundParamsSchema, headers: PublicBookingHeadersSchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The credit note PDF.',
      headers: PDF_HEADERS,
      content: { 'application/pdf': { schema: PdfSchema } },
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

function pdfResponse(c: Context<AppEnv>, document: InvoiceDocument, extra: Record<string, string> = {}): Response {
  const filename = document.invoice.number.replace(/[^A-Za-z0-9._-]/g, '_');
  return c.body(document.pdf as Uint8Array<ArrayBuffer>, 200, {
    'content-type': 'application/pdf',
    'content-disposition': `attachment; filename="${filename}.pdf"`,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...extra,
  });
}

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(staffRoute, async (c) => {
    const document = await bookingInvoice(serviceContext(c), { bookingId: c.req.valid('param').id });
    return pdfResponse(c, document);
  });
  app.openapi(publicRoute, async (c) => {
    const ctx = serviceContext(c);
    const input = { bookingId: c.req.valid('param').id, token: c.req.valid('header')['booking-token'] };
    const { outcome, result } = await publicRead(ctx, () => bookingInvoice(ctx, input));
    return pdfResponse(c, result, outcome === null ? {} : rateLimitHeaders(outcome));
  });
  app.openapi(staffCreditNoteRoute, async (c) => {
    const { id, refundId } = c.req.valid('param');
    return pdfResponse(c, await bookingInvoice(serviceContext(c), { bookingId: id, refundId }));
  });
  app.openapi(publicCreditNoteRoute, async (c) => {
    const ctx = serviceContext(c);
    const { id, refundId } = c.req.valid('param');
    const input = { bookingId: id, refundId, token: c.req.valid('header')['booking-token'] };
    const { outcome, result } = await publicRead(ctx, () => bookingInvoice(ctx, input));
    return pdfResponse(c, result, outcome === null ? {} : rateLimitHeaders(outcome));
  });
}
