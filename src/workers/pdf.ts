import { WorkerEntrypoint } from 'cloudflare:workers';
import type { Invoice } from '../db/schema/index.ts';
import { renderInvoicePdf } from '../services/invoices/pdf.ts';

/**
 * The invoice PDF renderer, a Worker of its own (workers/pdf/wrangler.toml) that the API Worker calls over a service
 * binding (`PDF_RENDERER`, RPC: same location, no network hop, no public route). pdf-lib with its fonts and pako is
 * about 445 KiB of minified code that only the first download of an invoice needs; kept out of the API Worker, it is
 * not compiled at every cold start of an isolate that serves catalogue reads and checkouts (issue #13,
 * docs/PERFORMANCE.md). A pure function: the invoice row in, the PDF bytes out; no bindings, no I/O.
 */
export default class PdfRenderer extends WorkerEntrypoint {
  /** The PDF of an invoice or credit note as issued (src/services/invoices/pdf.ts). */
  async render(invoice: Invoice): Promise<Uint8Array> {
    return renderInvoicePdf(invoice);
  }

  /** No HTTP surface: the Worker has no route, and only RPC reaches it. */
  override fetch(): Response {
    return new Response(null, { status: 404 });
  }
}
