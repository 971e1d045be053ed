import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import type { Invoice } from '../../db/schema/index.ts';
import { formatMoney } from '../email/format.ts';

/**
 * Renders an invoice or credit note as a PDF with pdf-lib (pure JavaScript, runs in workerd), A4, in the standard
 * Helvetica font: nothing to embed, so the file is small and rendering is fast. Helvetica only covers WinAnsi
 * (Latin-1 and a few more); `printable` makes any text printable: characters outside it are transliterated when
 * they decompose to Latin letters (é, ł stays ?, Ş -> S) and otherwise replaced by `?`, so a name in any script
 * never breaks rendering. Everything printed comes from the invoice row (a snapshot taken at issue).
 */

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 50;

/** The text as Helvetica (WinAnsi) can draw it: decomposed accents dropped, other unsupported characters as `?`. */
export function printable(text: string, supported: ReadonlySet<number>): string {
  let out = '';
  for (const char of text.replace(/[\r\n\t]+/g, ' ')) {
    const code = char.codePointAt(0) ?? 0;
    if (supported.has(code)) {
      out += char;
      continue;
    }
    if (code === 0x202f || code === 0x2009) {
      out += ' ';
      continue;
    }
    const base = char.normalize('NFKD').replace(/\p{M}/gu, '');
    out += base.length > 0 && Array.from(base).every((c) => supported.has(c.codePointAt(0) ?? 0)) ? base : '?';
  }
  return out;
}

function rate(basisPoints: number | null): string {
  return basisPoints === null ? '' : `${(basisPoints / 100).toFixed(2).replace(/\.?0+$/, '')} %`;
}

export async function renderInvoicePdf(invoice: Invoice): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const supported = new Set(font.getCharacterSet());
  const clean = (text: string) => printable(text, supported);
  const money = (minor: number) => clean(formatMoney(minor, invoice.currency));
  const title = invoice.kind === 'invoice' ? 'Invoice' : 'Credit note';

  doc.setTitle(`${title} ${clean(invoice.number)}`);
  doc.setSubject(`${title} ${clean(invoice.number)} for booking ${invoice.bookingId}`);
  doc.setAuthor(clean(invoice.seller.legalName || 'Eventra'));
  doc.setProducer('Eventra');
  doc.setCreationDate(invoice.issuedAt);

  let page: PDFPage = doc.addPage(A4);
  let y = A4[1] - MARGIN;
  const line = (text: string, options: { size?: number; x?: number; f?: PDFFont } = {}) => {
    const size = options.size ?? 10;
    if (y < MARGIN + size) {
      page = doc.addPage(A4);
      y = A4[1] - MARGIN;
    }
    page.drawText(clean(text), { x: options.x ?? MARGIN, y, size, font: options.f ?? font, color: rgb(0, 0, 0) });
  };
  const next = (gap = 14) => {
    y -= gap;
  };

  line(`${title} ${invoice.number}`, { size: 18, f: bold });
  next(26);
  const seller = invoice.seller;
  const sellerLines = [
    ...(seller.legalName === '' ? [] : [seller.legalName]),
    ...seller.address.split('\n').filter((part) => part.trim() !== ''),
    ...(seller.taxId === '' ? [] : [`Tax ID: ${seller.taxId}`]),
  ];
  sellerLines.forEach((text, index) => {
    line(text, index === 0 && seller.legalName !== '' ? { f: bold } : {});
    next();
  });
  next(10);
  line(`Date of issue: ${invoice.issuedAt.toISOString().slice(0, 10)}`);
  next();
  line(`Booking: ${invoice.bookingId}`);
  next();
  line(`Bill to: ${invoice.buyerName} <${invoice.buyerEmail}>`);
  next(24);

  const columns = [MARGIN, 300, 340, 410, 470];
  ['Description', 'Qty', 'Tax rate', 'Tax', 'Gross'].forEach((heading, i) => line(heading, { x: columns[i], f: bold }));
  next(16);
  for (const item of invoice.lines) {
    const description = clean(item.description);
    line(description.length > 45 ? `${description.slice(0, 44)}…` : description);
    line(String(item.quantity), { x: columns[1] });
    line(rate(item.taxRate), { x: columns[2] });
    line(money(item.tax), { x: columns[3] });
    line(money(item.gross), { x: columns[4] });
    next();
  }
  next(12);
  line('Net', { x: columns[3], f: bold });
  line(money(invoice.net), { x: columns[4] });
  next();
  line('Tax', { x: columns[3], f: bold });
  line(money(invoice.tax), { x: columns[4] });
  next();
  line('Total', { x: columns[3], f: bold });
  line(money(invoice.gross), { x: columns[4], f: bold });
  next(24);
  line(
    invoice.kind === 'invoice'
      ? 'Prices include tax. Paid in full.'
      : 'This credit note corrects the invoice named above by the amount refunded.',
  );
  return doc.save({ useObjectStreams: false });
}
