import { env } from 'cloudflare:workers';
import { and, asc, eq } from 'drizzle-orm';
import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { bookings, invoiceSettings, invoices, type Event } from '../../src/db/schema/index.ts';
import type { BookingResponse } from '../../src/routes/bookings/schema.ts';
import { confirmBooking } from '../../src/services/bookings/transitions.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { invoicePdf, pdfKey } from '../../src/services/invoices/service.ts';
import { auditRows, mailbox, poll, randomIp } from '../support/auth.ts';
import { book, checkout, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import {
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { checkoutSessionObject, configureStripe, postWebhook, stripeEvent } from '../support/stripe.ts';
import { call, memberWithToken, serviceContextFor } from '../support/users.ts';

const files = () => (env as unknown as { FILES: R2Bucket }).FILES;

interface Fixture {
  tenant: TestTenant;
  token: string;
  event: Event;
}

async function fixture(): Promise<Fixture> {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  return { tenant, token, event };
}

function confirm(f: Fixture, bookingId: string, headers: Record<string, string> = {}) {
  return call(f.tenant, 'POST', `/api/v1/bookings/${bookingId}/confirm`, { token: f.token, headers });
}

async function invoiceRows(tenant: TestTenant) {
  return database()
    .select()
    .from(invoices)
    .where(eq(invoices.organizationId, tenant.organization.id))
    .orderBy(asc(invoices.sequence));
}

function publicInvoice(tenant: TestTenant, bookingId: string, token: string | undefined) {
  return request(tenant.url(`/api/v1/public/bookings/${bookingId}/invoice`), {
    headers: { 'cf-connecting-ip': randomIp(), ...(token === undefined ? {} : { 'booking-token': token }) },
  });
}

/** The text a pdf-lib page draws: its (Flate) content streams inflated, the hex strings of Tj decoded (WinAnsi). */
async function pdfText(bytes: Uint8Array): Promise<string> {
  const doc = await PDFDocument.load(bytes);
  let text = '';
  for (const page of doc.getPages()) {
    const contents = page.node.Contents();
    const streams = contents === undefined ? [] : 'asArray' in contents ? contents.asArray() : [contents];
    for (const ref of streams) {
      const stream = doc.context.lookup(ref) as unknown as { getContents(): Uint8Array };
      const raw = stream.getContents();
      const inflated = new Uint8Array(
        await new Response(new Blob([raw]).stream().pipeThrough(new DecompressionStream('deflate'))).arrayBuffer(),
      );
      const ops = new TextDecoder('latin1').decode(inflated);
      for (const match of ops.matchAll(/<([0-9A-Fa-f]*)> Tj/g)) {
        const hex = match[1] ?? '';
        const chars = hex.match(/../g) ?? [];
        text += chars.map((pair) => String.fromCharCode(parseInt(pair, 16))).join('') + '\n';
      }
    }
  }
  return text;
}

describe('invoices: numbering, tax, credit notes, PDFs', () => {
  it('issues an invoice with per-line tax (gross prices, half up) when a paid booking is confirmed; free gets none', async () => {
    const f = await fixture();
    const standard = await createTicketType(f.event, { name: 'Standard', price: 1190, taxRate: 1900 });
    const reduced = await createTicketType(f.event, { name: 'Reduced', price: 999, taxRate: 700, sortOrder: 1 });
    const half = await createTicketType(f.event, { name: 'Half', price: 1, taxRate: 10000, sortOrder: 2 });
    const free = await createTicketType(f.event, { name: 'Free', price: 0 });
    const booking = await book(f.tenant, f.event.slug, {
      items: [
        { ticketTypeId: standard.id, quantity: 3 },
        { ticketTypeId: reduced.id, quantity: 1 },
        { ticketTypeId: half.id, quantity: 1 },
      ],
    });
    expect(await invoiceRows(f.tenant)).toEqual([]);
    const requestId = newRequestId();
    const response = await confirm(f, booking.id, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({
      status: 'confirmed',
      total: 4570,
      invoice: { number: 'INV-000001', url: `/api/v1/bookings/${booking.id}/invoice` },
    });
    // The round trips of a confirmation are unchanged: one read, one batch (the invoice is part of the batch).
    expect((await roundTrips(requestId)).database).toBe(2);

    const [invoice, ...others] = await invoiceRows(f.tenant);
    expect(others).toEqual([]);
    // 3 x 11.90 at 19 %: tax 5.70 exactly; 9.99 at 7 %: 65.35 -> 65; 0.01 at 100 %: 0.5 -> 1 (half up).
    expect(invoice).toMatchObject({
      bookingId: booking.id,
      kind: 'invoice',
      sequence: 1,
      number: 'INV-000001',
      currency: 'EUR',
      gross: 4570,
      tax: 570 + 65 + 1,
      net: 4570 - 636,
      buyerName: 'Ada Lovelace',
      refundId: null,
    });
    expect(invoice?.lines).toEqual([
      { description: 'Standard', quantity: 3, unitPrice: 1190, taxRate: 1900, net: 3000, tax: 570, gross: 3570 },
      { description: 'Reduced', quantity: 1, unitPrice: 999, taxRate: 700, net: 934, tax: 65, gross: 999 },
      { description: 'Half', quantity: 1, unitPrice: 1, taxRate: 10000, net: 0, tax: 1, gross: 1 },
    ]);

    // A free booking is confirmed at checkout and gets no invoice: the counter does not move.
    const freeBooking = await book(f.tenant, f.event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    expect(freeBooking.status).toBe('confirmed');
    expect(await invoiceRows(f.tenant)).toHaveLength(1);
    const [settings] = await database()
      .select()
      .from(invoiceSettings)
      .where(eq(invoiceSettings.organizationId, f.tenant.organization.id));
    expect(settings?.nextNumber).toBe(2);
    const freeInvoice = await call(f.tenant, 'GET', `/api/v1/bookings/${freeBooking.id}/invoice`, { token: f.token });
    expect(freeInvoice.status).toBe(404);
  });

  it('takes a discount code off the lines it applied to, before tax: the invoice adds up to what was paid', async () => {
    const f = await fixture();
    const standard = await createTicketType(f.event, { name: 'Standard', price: 1190, taxRate: 1900, sortOrder: 0 });
    const reduced = await createTicketType(f.event, { name: 'Reduced', price: 999, taxRate: 700, sortOrder: 1 });
    const created = await call(f.tenant, 'POST', `/api/v1/events/${f.event.id}/discount-codes`, {
      token: f.token,
      body: { code: 'TENOFF', kind: 'fixed', amounts: { EUR: 1000 } },
    });
    expect(created.status).toBe(201);
    const booking = await book(f.tenant, f.event.slug, {
      items: [
        { ticketTypeId: standard.id, quantity: 3 },
        { ticketTypeId: reduced.id, quantity: 1 },
      ],
      discountCode: 'tenoff',
    });
    expect(booking.total).toBe(4569 - 1000);
    expect((await confirm(f, booking.id)).status).toBe(200);
    const [invoice] = await invoiceRows(f.tenant);
    // 1,000 shared in proportion to 3,570 and 999: 781 and 218, the last minor unit to the larger remainder (999's);
    // tax on what was paid per line: 2,789 at 19 % -> 445.3 -> 445; 780 at 7 % -> 51.03 -> 51.
    expect(invoice?.lines).toEqual([
      {
        description: 'Standard',
        quantity: 3,
        unitPrice: 1190,
        taxRate: 1900,
        discount: 781,
        net: 2344,
        tax: 445,
        gross: 2789,
      },
      {
        description: 'Reduced',
        quantity: 1,
        unitPrice: 999,
        taxRate: 700,
        discount: 219,
        net: 729,
        tax: 51,
        gross: 780,
      },
    ]);
    expect(invoice).toMatchObject({ gross: 3569, tax: 496, net: 3073 });
  });

  it("issues the invoice when Stripe's webhook confirms the booking, once however often it is replayed", async () => {
    const tenant = await createTenant();
    const stripe = await configureStripe(tenant);
    const event = await createEvent(tenant);
    const type = await createTicketType(event, { price: 1500, taxRate: 1900 });
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: type.id, quantity: 2 }] });
    const payload = stripeEvent('checkout.session.completed', checkoutSessionObject(tenant, booking));
    for (let i = 0; i < 2; i += 1) {
      expect((await postWebhook(tenant, payload, { secret: stripe.webhookSecret })).status).toBe(200);
    }
    const rows = await invoiceRows(tenant);
    // 30.00 at 19 %: 3000 x 1900 / 11900 = 478.99 -> 479.
    expect(rows.map((row) => [row.number, row.gross, row.tax, row.net])).toEqual([['INV-000001', 3000, 479, 2521]]);
  });

  it('numbers 200 concurrent confirmations gap-free and uniquely', async () => {
    const f = await fixture();
    const type = await createTicketType(f.event, { price: 1000, quantity: 500, taxRate: 1900 });
    const count = 200;
    const booked: string[] = [];
    for (let start = 0; start < count; start += 25) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(25, count - start) }, async (_, i) => {
          const response = await checkout(f.tenant, f.event.slug, {
            buyer: { name: `Buyer ${start + i}`, email: `buyer${start + i}@example.com` },
            items: [{ ticketTypeId: type.id, quantity: 1 }],
          });
          expect(response.status).toBe(201);
          return (await response.json<{ id: string }>()).id;
        }),
      );
      booked.push(...chunk);
    }
    // Straight into the service (the HTTP rate limits would turn most of 200 simultaneous requests into 429s):
    // 200 confirmations racing on the organization's counter, each its own transaction.
    const { ctx } = await serviceContextFor(f.tenant, f.token);
    const confirmed = await Promise.all(booked.map((id) => confirmBooking({ ctx, input: { id } })));
    expect(confirmed.map((view) => view.status)).toEqual(booked.map(() => 'confirmed'));
    const rows = await invoiceRows(f.tenant);
    expect(rows).toHaveLength(count);
    expect(rows.map((row) => row.sequence)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(new Set(rows.map((row) => row.bookingId))).toEqual(new Set(booked));
    expect(new Set(rows.map((row) => row.number)).size).toBe(count);
    const [settings] = await database()
      .select()
      .from(invoiceSettings)
      .where(eq(invoiceSettings.organizationId, f.tenant.organization.id));
    expect(settings?.nextNumber).toBe(count + 1);
  }, 120_000);

  it('issues a credit note per refund in the same sequence; the refund round trips are unchanged', async () => {
    const f = await fixture();
    const type = await createTicketType(f.event, { price: 1190, taxRate: 1900 });
    const buyerEmail = `refunded-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const booking = await book(f.tenant, f.event.slug, {
      buyer: { name: 'Ada Lovelace', email: buyerEmail },
      items: [{ ticketTypeId: type.id, quantity: 2 }],
    });
    expect((await confirm(f, booking.id)).status).toBe(200);
    const requestId = newRequestId();
    const refund = await call(f.tenant, 'POST', `/api/v1/bookings/${booking.id}/refund`, {
      token: f.token,
      body: { amount: 1000 },
      headers: { 'x-request-id': requestId },
    });
    expect(refund.status).toBe(201);
    expect((await roundTrips(requestId)).database).toBe(2);
    const rest = await call(f.tenant, 'POST', `/api/v1/bookings/${booking.id}/refund`, { token: f.token, body: {} });
    expect(rest.status).toBe(201);
    const refunded: BookingResponse = await rest.json();
    expect(refunded.status).toBe('refunded');

    const rows = await invoiceRows(f.tenant);
    expect(rows.map((row) => [row.kind, row.number, row.gross, row.tax, row.net])).toEqual([
      ['invoice', 'INV-000001', 2380, 380, 2000],
      // 10.00 of 23.80 with 3.80 tax: 1000 x 380 / 2380 = 159.66 -> 160.
      ['credit_note', 'INV-000002', 1000, 160, 840],
      // The rest, 13.80: 1380 x 380 / 2380 = 220.34 -> 220.
      ['credit_note', 'INV-000003', 1380, 220, 1160],
    ]);
    expect(rows[1]?.refundId).toBe(refunded.refunds[0]?.id);
    expect(rows[2]?.refundId).toBe(refunded.refunds[1]?.id);

    // The staff view links each refund's credit note, and the PDF downloads (one database round trip, plus R2).
    const [first, second] = refunded.refunds;
    if (!first || !second) throw new Error('two refunds expected');
    const firstPath = `/api/v1/bookings/${booking.id}/refunds/${first.id}/credit-note`;
    expect(first.creditNote).toEqual({ number: 'INV-000002', url: firstPath });
    expect(second.creditNote?.number).toBe('INV-000003');
    const downloadId = newRequestId();
    const staffPdf = await call(f.tenant, 'GET', firstPath, {
      token: f.token,
      headers: { 'x-request-id': downloadId },
    });
    expect(staffPdf.status).toBe(200);
    expect(staffPdf.headers.get('content-type')).toBe('application/pdf');
    expect(staffPdf.headers.get('content-disposition')).toBe('attachment; filename="INV-000002.pdf"');
    expect(staffPdf.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = new Uint8Array(await staffPdf.arrayBuffer());
    expect((await roundTrips(downloadId)).database).toBe(1);
    expect((await PDFDocument.load(bytes)).getTitle()).toBe('Credit note INV-000002');
    const text = await pdfText(bytes);
    expect(text).toContain('Credit note INV-000002');
    expect(text).toContain('Refund against invoice INV-000001');

    // The buyer's view links the buyer's copy, reached with the booking token in the header.
    const view = await request(f.tenant.url(`/api/v1/public/bookings/${booking.id}`), {
      headers: { 'cf-connecting-ip': randomIp(), 'booking-token': booking.token },
    });
    const buyerPath = `/api/v1/public/bookings/${booking.id}/refunds/${first.id}/credit-note`;
    expect((await view.json<{ refunds: { creditNote: unknown }[] }>()).refunds[0]?.creditNote).toEqual({
      number: 'INV-000002',
      url: buyerPath,
    });
    const buyerPdf = await request(f.tenant.url(buyerPath), {
      headers: { 'cf-connecting-ip': randomIp(), 'booking-token': booking.token },
    });
    expect(buyerPdf.status).toBe(200);
    expect(new Uint8Array(await buyerPdf.arrayBuffer())).toEqual(bytes);
    const wrongToken = await request(f.tenant.url(buyerPath), {
      headers: { 'cf-connecting-ip': randomIp(), 'booking-token': `${booking.token.slice(0, -4)}AAAA` },
    });
    expect(wrongToken.status).toBe(404);
    // The refund email names the credit note and where the buyer downloads it (no secret in the link).
    const mail = await poll(async () => {
      const messages = await mailbox(buyerEmail);
      return messages.find((message) => message.text.includes(buyerPath));
    }, 'the refund email with its credit note');
    expect(mail.text).toContain('INV-000002');
    expect(mail.text).not.toContain(booking.token);
    // Another booking's refund, an unknown refund, another organization: 404.
    const otherBooking = await book(f.tenant, f.event.slug, { items: [{ ticketTypeId: type.id, quantity: 1 }] });
    const crossed = `/api/v1/bookings/${otherBooking.id}/refunds/${first.id}/credit-note`;
    expect((await call(f.tenant, 'GET', crossed, { token: f.token })).status).toBe(404);
    const unknown = `/api/v1/bookings/${booking.id}/refunds/${crypto.randomUUID()}/credit-note`;
    expect((await call(f.tenant, 'GET', unknown, { token: f.token })).status).toBe(404);
    const other = await fixture();
    expect((await call(other.tenant, 'GET', firstPath, { token: other.token })).status).toBe(404);
  });

  it('renders the PDF into R2 on the first download and serves it to staff and to the buyer (Booking-Token)', async () => {
    const f = await fixture();
    const owner = await tokenFor(f.tenant, await createMember(f.tenant, 'owner'));
    const settings = await call(f.tenant, 'PUT', '/api/v1/organization/invoice-settings', {
      token: owner,
      body: {
        legalName: 'Acme Events GmbH',
        address: 'Hauptstr. 1\n10115 Berlin',
        taxId: 'DE123456789',
        prefix: 'AC-',
      },
    });
    expect(settings.status).toBe(200);
    const type = await createTicketType(f.event, { name: 'Konzert – Parkett', price: 2500, taxRate: 700 });
    // A hostile buyer name: a script Helvetica (WinAnsi) cannot draw, a letter it has only decomposed, an emoji.
    const hostile = 'Zoë 李雷 Şahin 🎟️';
    // A fresh address per run: the mailbox and the mail budget are kept per address across runs.
    const buyerEmail = `zoe-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const response = await checkout(f.tenant, f.event.slug, {
      buyer: { name: hostile, email: buyerEmail },
      items: [{ ticketTypeId: type.id, quantity: 1 }],
    });
    expect(response.status).toBe(201);
    const booking = await response.json<{ id: string; token: string }>();
    expect((await confirm(f, booking.id)).status).toBe(200);
    const [invoice] = await invoiceRows(f.tenant);
    if (invoice === undefined) throw new Error('no invoice');
    expect(invoice.number).toBe('AC-000001');
    expect(await files().head(pdfKey(invoice))).toBeNull();

    const requestId = newRequestId();
    const staff = await call(f.tenant, 'GET', `/api/v1/bookings/${booking.id}/invoice`, {
      token: f.token,
      headers: { 'x-request-id': requestId },
    });
    expect(staff.status).toBe(200);
    expect(staff.headers.get('content-type')).toBe('application/pdf');
    expect(staff.headers.get('content-disposition')).toBe('attachment; filename="AC-000001.pdf"');
    expect(staff.headers.get('x-content-type-options')).toBe('nosniff');
    expect(staff.headers.get('cache-control')).toBe('no-store');
    const bytes = new Uint8Array(await staff.arrayBuffer());
    expect((await roundTrips(requestId)).database).toBe(1);

    const stored = await files().get(pdfKey(invoice));
    expect(stored).not.toBeNull();
    expect(new Uint8Array((await stored?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(bytes);
    expect(pdfKey(invoice)).toMatch(/^invoices\/[0-9a-f-]{36}\/[0-9a-f-]{36}\/[0-9a-f-]{36}\.pdf$/);

    const doc = await PDFDocument.load(bytes);
    expect(doc.getTitle()).toBe('Invoice AC-000001');
    expect(doc.getAuthor()).toBe('Acme Events GmbH');
    const text = await pdfText(bytes);
    expect(text).toContain('Invoice AC-000001');
    expect(text).toContain('Acme Events GmbH');
    expect(text).toContain('10115 Berlin');
    expect(text).toContain('Tax ID: DE123456789');
    // The en dash is WinAnsi 0x96 (decoded here byte by byte, as Latin-1).
    expect(text).toContain('Konzert \x96 Parkett');
    // ë is in WinAnsi; 李雷 are not (?); Ş decomposes to S; the emoji is not (?).
    expect(text).toContain(`Bill to: Zoë ?? Sahin ?? <${buyerEmail}>`);
    expect(text).toContain('Net');
    expect(text).toContain('7 %');

    // The buyer's booking view names the invoice; the confirmation email names it and says where to get it.
    const view = await request(f.tenant.url(`/api/v1/public/bookings/${booking.id}`), {
      headers: { 'cf-connecting-ip': randomIp(), 'booking-token': booking.token },
    });
    expect(await view.json()).toMatchObject({
      invoice: { number: 'AC-000001', url: `/api/v1/public/bookings/${booking.id}/invoice` },
    });
    const mail = await poll(async () => {
      const messages = await mailbox(buyerEmail);
      return messages.find((message) => message.text.includes('AC-000001'));
    }, 'the confirmation email');
    expect(mail.text).toContain(`/api/v1/public/bookings/${booking.id}/invoice`);
    expect(mail.text).not.toContain(booking.token);

    // The buyer: the same file with the booking token in the header; a wrong or missing token is refused.
    const buyer = await publicInvoice(f.tenant, booking.id, booking.token);
    expect(buyer.status).toBe(200);
    expect(buyer.headers.get('content-type')).toBe('application/pdf');
    expect(new Uint8Array(await buyer.arrayBuffer())).toEqual(bytes);
    const wrong = await publicInvoice(f.tenant, booking.id, `${booking.token.slice(0, -4)}AAAA`);
    expect(wrong.status).toBe(404);
    expect((await publicInvoice(f.tenant, booking.id, undefined)).status).toBe(400);

    // Another organization: 404 for its staff and for the buyer's token on its host.
    const other = await fixture();
    const cross = await call(other.tenant, 'GET', `/api/v1/bookings/${booking.id}/invoice`, { token: other.token });
    expect(cross.status).toBe(404);
    expect((await problem(cross)).code).toBe('not_found');
    expect((await publicInvoice(other.tenant, booking.id, booking.token)).status).toBe(404);
    // Staff without bookings:read cannot download.
    const { token: member } = await memberWithToken(f.tenant, 'member');
    const denied = await call(f.tenant, 'GET', `/api/v1/bookings/${booking.id}/invoice`, { token: member });
    expect([403]).toContain(denied.status);
  });

  it('a renderer failure is a 503 that stores nothing; the next download renders the PDF', async () => {
    const f = await fixture();
    const type = await createTicketType(f.event, { price: 1200 });
    const booking = await book(f.tenant, f.event.slug, { items: [{ ticketTypeId: type.id, quantity: 1 }] });
    expect((await confirm(f, booking.id)).status).toBe(200);
    const [invoice] = await invoiceRows(f.tenant);
    if (invoice === undefined) throw new Error('no invoice');

    // The PDF_RENDERER service binding as it fails when the renderer Worker is not deployed or throws.
    const { ctx } = await serviceContextFor(f.tenant, f.token);
    const failing = { render: () => Promise.reject(new Error('Worker "eventra-pdf-local" not found')) };
    const refused: unknown = await invoicePdf(
      { ...ctx, bindings: { ...ctx.bindings, PDF_RENDERER: failing as unknown as typeof ctx.bindings.PDF_RENDERER } },
      invoice,
    ).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 'service_unavailable', status: 503 });
    expect(await files().head(pdfKey(invoice))).toBeNull();

    // Through the API, with the real renderer Worker behind the binding.
    const download = await call(f.tenant, 'GET', `/api/v1/bookings/${booking.id}/invoice`, { token: f.token });
    expect(download.status).toBe(200);
    const doc = await PDFDocument.load(new Uint8Array(await download.arrayBuffer()));
    expect(doc.getTitle()).toBe(`Invoice ${invoice.number}`);
    expect(await files().head(pdfKey(invoice))).not.toBeNull();
  });

  it('invoice settings: billing:manage, validated, audited; issued invoices keep their details', async () => {
    const f = await fixture();
    const owner = await tokenFor(f.tenant, await createMember(f.tenant, 'owner'));
    const initial = await call(f.tenant, 'GET', '/api/v1/organization/invoice-settings', { token: owner });
    expect(initial.status).toBe(200);
    expect(await initial.json()).toEqual({ legalName: '', address: '', taxId: '', prefix: 'INV-', nextNumber: 1 });
    expect((await call(f.tenant, 'GET', '/api/v1/organization/invoice-settings', { token: f.token })).status).toBe(403);

    const cases: [unknown, string][] = [
      [{ prefix: 'bad prefix!' }, '/body/prefix'],
      [{ legalName: 'x'.repeat(201) }, '/body/legalName'],
      [{ legalName: 'two\nlines' }, '/body/legalName'],
      [{ address: 'a\nb\nc\nd\ne\nf\ng' }, '/body/address'],
      [{ taxId: 'DE<script>' }, '/body/taxId'],
      [{ nextNumber: 1 }, '/body'],
    ];
    for (const [body, pointer] of cases) {
      const answer = await call(f.tenant, 'PUT', '/api/v1/organization/invoice-settings', { token: owner, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      const details = await problem(answer);
      expect(details.errors?.map((error) => error.pointer).join(' ')).toContain(pointer);
    }

    const put = await call(f.tenant, 'PUT', '/api/v1/organization/invoice-settings', {
      token: owner,
      body: { legalName: 'First Name Ltd' },
    });
    expect(await put.json()).toEqual({
      legalName: 'First Name Ltd',
      address: '',
      taxId: '',
      prefix: 'INV-',
      nextNumber: 1,
    });
    const [audit] = await auditRows(f.tenant.organization.id, 'invoice_settings.updated');
    expect(audit?.metadata).toMatchObject({ changed: ['legalName'] });

    const type = await createTicketType(f.event, { price: 500 });
    const booking = await book(f.tenant, f.event.slug, { items: [{ ticketTypeId: type.id, quantity: 1 }] });
    expect((await confirm(f, booking.id)).status).toBe(200);
    await call(f.tenant, 'PUT', '/api/v1/organization/invoice-settings', {
      token: owner,
      body: { legalName: 'Renamed Ltd', prefix: 'R-' },
    });
    const [invoice] = await invoiceRows(f.tenant);
    expect(invoice).toMatchObject({ number: 'INV-000001', seller: { legalName: 'First Name Ltd' } });
    const [row] = await database()
      .select({ status: bookings.status })
      .from(bookings)
      .where(and(eq(bookings.id, booking.id)));
    expect(row?.status).toBe('confirmed');
  });
});
