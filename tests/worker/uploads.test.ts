import { env } from 'cloudflare:workers';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { auditLogs, events, files, organizations, outbox } from '../../src/db/schema/index.ts';
import { createEvent } from '../support/catalogue.ts';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { memberWithToken } from '../support/users.ts';

interface StoredImage {
  url: string;
  contentType: string;
  sizeBytes: number;
  width: number;
  height: number;
  etag: string;
  createdAt: string;
}

// ---- tiny real images, built here (no packages) ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

const ascii = (text: string) => new TextEncoder().encode(text);

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const body = concat(ascii(type), data);
  return concat(u32(data.byteLength), body, u32(crc32(body)));
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A valid RGB PNG of one colour; `declared` lies about the size in IHDR (with pixel data for `width` x `height`). */
async function png(width: number, height: number, declared = { width, height }): Promise<Uint8Array> {
  const ihdr = concat(u32(declared.width), u32(declared.height), new Uint8Array([8, 2, 0, 0, 0]));
  const rows = new Uint8Array((1 + width * 3) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([0x4f, 0x46, 0xe5], y * (1 + width * 3) + 1 + x * 3);
  }
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', await deflate(rows)),
    pngChunk('IEND', new Uint8Array()),
  );
}

/**
 * A valid baseline JPEG, 16 x 16 grey: one component, quantisation all ones, one Huffman code per table (DC
 * difference 0, AC end of block), so each of the four 8x8 blocks is two zero bits.
 */
function jpeg(): Uint8Array {
  const segment = (marker: number, data: number[]) => [
    0xff,
    marker,
    (data.length + 2) >> 8,
    (data.length + 2) & 0xff,
    ...data,
  ];
  const huffman = (tableClass: number) => [tableClass << 4, 1, ...new Array<number>(15).fill(0), 0];
  return new Uint8Array([
    0xff,
    0xd8,
    ...segment(0xe0, [...ascii('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    ...segment(0xdb, [0, ...new Array<number>(64).fill(1)]),
    ...segment(0xc0, [8, 0, 16, 0, 16, 1, 1, 0x11, 0]),
    ...segment(0xc4, huffman(0)),
    ...segment(0xc4, huffman(1)),
    ...segment(0xda, [1, 1, 0, 0, 63, 0]),
    0x00,
    0xff,
    0xd9,
  ]);
}

/**
 * A valid lossless WebP (VP8L), 16 x 16 of one colour: no transforms, no colour cache, five one-symbol prefix codes,
 * so every pixel takes zero bits.
 */
function webp(): Uint8Array {
  const bits: number[] = [];
  const write = (value: number, count: number) => {
    for (let i = 0; i < count; i++) bits.push((value >> i) & 1);
  };
  write(0x2f, 8); // signature
  write(15, 14); // width - 1
  write(15, 14); // height - 1
  write(0, 1); // alpha unused
  write(0, 3); // version
  write(0, 1); // no transform
  write(0, 1); // no colour cache
  write(0, 1); // no meta prefix codes
  for (const symbol of [0x46, 0x4f, 0xe5, 0xff]) {
    write(1, 1); // simple code
    write(0, 1); // one symbol
    write(1, 1); // 8-bit symbol
    write(symbol, 8);
  }
  write(1, 1); // distance: simple code, one 1-bit symbol 0
  write(0, 1);
  write(0, 1);
  write(0, 1);
  const data = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, index) => {
    data[index >> 3] = (data[index >> 3] ?? 0) | (bit << (index & 7));
  });
  const padded = data.byteLength % 2 === 1 ? concat(data, new Uint8Array(1)) : data;
  const le32 = (value: number) =>
    new Uint8Array([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >>> 24]);
  const chunk = concat(ascii('VP8L'), le32(data.byteLength), padded);
  return concat(ascii('RIFF'), le32(4 + chunk.byteLength), ascii('WEBP'), chunk);
}

// ---- helpers ----

async function setup() {
  const tenant = await createTenant();
  const { token } = await memberWithToken(tenant, 'admin');
  return { tenant, token };
}

function put(
  tenant: TestTenant,
  path: string,
  token: string,
  body: Uint8Array,
  contentType: string,
  requestId = newRequestId(),
) {
  return request(tenant.url(path), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType, 'x-request-id': requestId },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

async function uploaded(response: Response): Promise<StoredImage> {
  if (response.status !== 200) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  return response.json<StoredImage>();
}

async function objectsOf(tenant: TestTenant): Promise<string[]> {
  const bucket = env.FILES;
  if (bucket === undefined) throw new Error('the FILES binding is missing');
  const listed = await bucket.list({ prefix: `images/${tenant.organization.id}/` });
  return listed.objects.map((object) => object.key);
}

async function fileRows(tenant: TestTenant) {
  return database().select().from(files).where(eq(files.organizationId, tenant.organization.id));
}

describe('image uploads', () => {
  it('stores a PNG logo in one database round trip, sets branding.logoUrl, and serves it publicly with safe headers', async () => {
    const { tenant, token } = await setup();
    const image = await png(32, 24);
    // Warm the isolate's tenant cache, so the measured request pays only its own round trips.
    expect((await request(tenant.url('/api/v1/organization/logo'))).status).toBe(404);
    const requestId = newRequestId();
    const stored = await uploaded(await put(tenant, '/api/v1/organization/logo', token, image, 'image/png', requestId));
    expect(stored).toMatchObject({ contentType: 'image/png', width: 32, height: 24, sizeBytes: image.byteLength });
    expect(stored.url).toMatch(
      new RegExp(`^https://${tenant.host.replace('.', '\\.')}/api/v1/organization/logo\\?v=[0-9a-f-]{36}$`),
    );
    const trips = await roundTrips(requestId);
    expect(trips.database).toBe(1);
    expect(trips.redis).toBeLessThanOrEqual(1);

    const [organization] = await database()
      .select({ branding: organizations.branding })
      .from(organizations)
      .where(eq(organizations.id, tenant.organization.id));
    expect(organization?.branding.logoUrl).toBe(stored.url);
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(
        and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'organization.logo_uploaded')),
      );
    expect(audit).toBeDefined();

    const download = await request(tenant.url('/api/v1/organization/logo'));
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('content-disposition')).toBe('inline; filename="logo.png"');
    expect(download.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(download.headers.get('cache-control')).toBe('public, max-age=300');
    expect(download.headers.get('etag')).toBe(stored.etag);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(image);

    const again = await request(tenant.url('/api/v1/organization/logo'), { headers: { 'if-none-match': stored.etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('accepts real JPEG and WebP covers and reports their dimensions', async () => {
    const { tenant, token } = await setup();
    const event = await createEvent(tenant);
    const jpg = await uploaded(await put(tenant, `/api/v1/events/${event.id}/cover`, token, jpeg(), 'image/jpeg'));
    expect(jpg).toMatchObject({ contentType: 'image/jpeg', width: 16, height: 16 });
    const other = await createEvent(tenant);
    const requestId = newRequestId();
    const wp = await uploaded(
      await put(tenant, `/api/v1/events/${other.id}/cover`, token, webp(), 'image/webp; charset=binary', requestId),
    );
    expect(wp).toMatchObject({ contentType: 'image/webp', width: 16, height: 16 });
    expect((await roundTrips(requestId)).database).toBe(1);
    const download = await request(tenant.url(`/api/v1/events/${other.id}/cover`));
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/webp');
    expect(download.headers.get('content-disposition')).toBe('inline; filename="cover.webp"');
  });

  it('puts the cover URL on the public event detail at once, past its edge cache, and tells webhooks', async () => {
    const { tenant, token } = await setup();
    const event = await createEvent(tenant);
    const publicCover = async () => {
      const detail = await request(tenant.url(`/api/v1/public/events/${event.slug}`));
      expect(detail.status).toBe(200);
      return (await detail.json<{ coverImageUrl: string | null }>()).coverImageUrl;
    };
    expect(await publicCover()).toBeNull();
    const stored = await uploaded(
      await put(tenant, `/api/v1/events/${event.id}/cover`, token, await png(64, 64), 'image/png'),
    );
    // The outbox dispatch (after the response) moves the catalogue version; the cached answer is then unreachable.
    await vi.waitFor(async () => expect(await publicCover()).toBe(stored.url), { timeout: 5_000, interval: 100 });
    const updates = await database()
      .select({ payload: outbox.payload })
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'event.updated')));
    expect(JSON.stringify(updates)).toContain(stored.url);
  });

  it('refuses an image over 1 MiB with 413 and stores nothing', async () => {
    const { tenant, token } = await setup();
    const big = concat(await png(16, 16), new Uint8Array(1024 * 1024));
    const response = await put(tenant, '/api/v1/organization/logo', token, big, 'image/png');
    expect(response.status).toBe(413);
    expect((await problem(response)).code).toBe('payload_too_large');
    expect(await objectsOf(tenant)).toEqual([]);
  });

  it('refuses bytes that are not the declared type with 415 naming what they are', async () => {
    const { tenant, token } = await setup();
    const response = await put(tenant, '/api/v1/organization/logo', token, jpeg(), 'image/png');
    expect(response.status).toBe(415);
    const body = await problem(response);
    expect(body.code).toBe('unsupported_media_type');
    expect(body.detail).toContain('image/jpeg');
    const text = await put(
      tenant,
      '/api/v1/organization/logo',
      token,
      ascii('plain text, not an image at all'),
      'image/webp',
    );
    expect(text.status).toBe(415);
    expect((await problem(text)).detail).toContain('not a recognised image type');
    const gif = new Uint8Array([...ascii('GIF89a'), 16, 0, 16, 0, 0, 0, 0, 0x3b]);
    expect((await put(tenant, '/api/v1/organization/logo', token, gif, 'image/gif')).status).toBe(415);
    expect(await fileRows(tenant)).toEqual([]);
    expect(await objectsOf(tenant)).toEqual([]);
  });

  it('refuses SVG, declared as SVG or behind an image type', async () => {
    const { tenant, token } = await setup();
    const svg = ascii('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(1)</script></svg>');
    const declared = await put(tenant, '/api/v1/organization/logo', token, svg, 'image/svg+xml');
    expect(declared.status).toBe(415);
    expect((await problem(declared)).detail).toContain('image/png, image/jpeg or image/webp');
    const hidden = await put(tenant, '/api/v1/organization/logo', token, svg, 'image/png');
    expect(hidden.status).toBe(415);
    expect(await objectsOf(tenant)).toEqual([]);
  });

  it('refuses a polyglot: a valid PNG carrying HTML script', async () => {
    const { tenant, token } = await setup();
    const polyglot = concat(await png(16, 16), ascii('<script>alert(document.cookie)</script>'));
    const response = await put(tenant, '/api/v1/organization/logo', token, polyglot, 'image/png');
    expect(response.status).toBe(415);
    expect((await problem(response)).detail).toContain('polyglot');
    expect(await objectsOf(tenant)).toEqual([]);
  });

  it('refuses bomb dimensions and tiny images with 422, without decoding', async () => {
    const { tenant, token } = await setup();
    const bomb = await png(16, 16, { width: 100_000, height: 100_000 });
    const response = await put(tenant, '/api/v1/organization/logo', token, bomb, 'image/png');
    expect(response.status).toBe(422);
    expect((await problem(response)).detail).toContain('100000 x 100000');
    const tiny = await put(tenant, '/api/v1/organization/logo', token, await png(1, 1), 'image/png');
    expect(tiny.status).toBe(422);
    expect(await objectsOf(tenant)).toEqual([]);
  });

  it("answers 404 for another organization's event and stores nothing", async () => {
    const { tenant, token } = await setup();
    const other = await setup();
    const foreign = await createEvent(other.tenant);
    await uploaded(
      await put(other.tenant, `/api/v1/events/${foreign.id}/cover`, other.token, await png(16, 16), 'image/png'),
    );
    const response = await put(tenant, `/api/v1/events/${foreign.id}/cover`, token, await png(16, 16), 'image/png');
    expect(response.status).toBe(404);
    expect(await fileRows(tenant)).toEqual([]);
    expect(await objectsOf(tenant)).toEqual([]);
    expect((await request(tenant.url(`/api/v1/events/${foreign.id}/cover`))).status).toBe(404);
    const staffRead = await request(tenant.url(`/api/v1/events/${foreign.id}/cover`), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(staffRead.status).toBe(404);
    const removal = await request(tenant.url(`/api/v1/events/${foreign.id}/cover`), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(removal.status).toBe(404);
    expect(await objectsOf(other.tenant)).toHaveLength(1);
  });

  it("refuses an upload past the plan's storage limit with 403 plan_limit and keeps nothing of it", async () => {
    const { tenant, token } = await setup();
    const event = await createEvent(tenant);
    // The starter plan keeps 10 MiB: fill it but 10 bytes with a stored cover of another event.
    const filler = await createEvent(tenant);
    await database()
      .insert(files)
      .values({
        organizationId: tenant.organization.id,
        kind: 'cover',
        eventId: filler.id,
        slot: `cover:${filler.id}`,
        objectKey: `images/${tenant.organization.id}/cover/filler.png`,
        contentType: 'image/png',
        sizeBytes: 10 * 1024 * 1024 - 10,
        width: 16,
        height: 16,
        etag: '"filler"',
      });
    const response = await put(tenant, `/api/v1/events/${event.id}/cover`, token, await png(16, 16), 'image/png');
    expect(response.status).toBe(403);
    const body = await problem(response);
    expect(body).toMatchObject({ code: 'plan_limit', quota: 'storageBytes', limit: 10 * 1024 * 1024, plan: 'starter' });
    expect(await objectsOf(tenant)).toEqual([]);
    expect(await fileRows(tenant)).toHaveLength(1);
  });

  it('lets only one of two concurrent uploads take the last free bytes', async () => {
    const { tenant, token } = await setup();
    const image = await png(16, 16);
    const [first, second, filler] = [await createEvent(tenant), await createEvent(tenant), await createEvent(tenant)];
    // Room for one more image of this size, not two.
    await database()
      .insert(files)
      .values({
        organizationId: tenant.organization.id,
        kind: 'cover',
        eventId: filler.id,
        slot: `cover:${filler.id}`,
        objectKey: `images/${tenant.organization.id}/cover/filler.png`,
        contentType: 'image/png',
        sizeBytes: 10 * 1024 * 1024 - Math.floor(image.byteLength * 1.5),
        width: 16,
        height: 16,
        etag: '"filler"',
      });
    const answers = await Promise.all(
      [first, second].map((event) => put(tenant, `/api/v1/events/${event.id}/cover`, token, image, 'image/png')),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 403]);
    expect(await objectsOf(tenant)).toHaveLength(1);
    expect(await fileRows(tenant)).toHaveLength(2);
  });

  it('cuts off a streamed body without Content-Length at the limit with 413', async () => {
    const { tenant, token } = await setup();
    const head = await png(16, 16);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(head);
        else if (sent > 2 * 1024 * 1024) controller.close();
        else controller.enqueue(new Uint8Array(64 * 1024));
        sent += sent === 0 ? head.byteLength : 64 * 1024;
      },
    });
    const response = await request(tenant.url('/api/v1/organization/logo'), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect((await problem(response)).code).toBe('payload_too_large');
    expect(await objectsOf(tenant)).toEqual([]);
  });

  it('replacing an image deletes the old object', async () => {
    const { tenant, token } = await setup();
    const first = await uploaded(await put(tenant, '/api/v1/organization/logo', token, await png(16, 16), 'image/png'));
    const [firstKey] = await objectsOf(tenant);
    const second = await uploaded(await put(tenant, '/api/v1/organization/logo', token, jpeg(), 'image/jpeg'));
    expect(second.url).not.toBe(first.url);
    const keys = await objectsOf(tenant);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(firstKey);
    expect(keys[0]).toMatch(new RegExp(`^images/${tenant.organization.id}/logo/[0-9a-f-]{36}\\.jpg$`));
    const rows = await fileRows(tenant);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.contentType).toBe('image/jpeg');
    const download = await request(tenant.url('/api/v1/organization/logo'), {
      headers: { 'if-none-match': first.etag },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/jpeg');
  });

  it('deletes the logo: the object, the row and branding.logoUrl go; a second delete is 404', async () => {
    const { tenant, token } = await setup();
    await uploaded(await put(tenant, '/api/v1/organization/logo', token, await png(16, 16), 'image/png'));
    const requestId = newRequestId();
    const removal = await request(tenant.url('/api/v1/organization/logo'), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId },
    });
    expect(removal.status).toBe(204);
    expect((await roundTrips(requestId)).database).toBe(1);
    expect(await objectsOf(tenant)).toEqual([]);
    expect(await fileRows(tenant)).toEqual([]);
    const [organization] = await database()
      .select({ branding: organizations.branding })
      .from(organizations)
      .where(eq(organizations.id, tenant.organization.id));
    expect(organization?.branding.logoUrl).toBeUndefined();
    expect((await request(tenant.url('/api/v1/organization/logo'))).status).toBe(404);
    const again = await request(tenant.url('/api/v1/organization/logo'), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(404);
  });

  it('serves the cover of a draft event to staff only, and to the public once published', async () => {
    const { tenant, token } = await setup();
    const event = await createEvent(tenant, { status: 'draft' });
    await uploaded(await put(tenant, `/api/v1/events/${event.id}/cover`, token, await png(16, 16), 'image/png'));
    expect((await request(tenant.url(`/api/v1/events/${event.id}/cover`))).status).toBe(404);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const requestId = newRequestId();
    const staffRead = await request(tenant.url(`/api/v1/events/${event.id}/cover`), {
      headers: { authorization: `Bearer ${staffToken}`, 'x-request-id': requestId },
    });
    expect(staffRead.status).toBe(200);
    expect(staffRead.headers.get('cache-control')).toBe('no-store');
    const trips = await roundTrips(requestId);
    expect(trips.database).toBe(1);
    expect(trips.redis).toBeLessThanOrEqual(1);
    const customer = await memberWithToken(tenant, 'member');
    const refused = await request(tenant.url(`/api/v1/events/${event.id}/cover`), {
      headers: { authorization: `Bearer ${customer.token}` },
    });
    expect(refused.status).toBe(403);
    await database().update(events).set({ status: 'published' }).where(eq(events.id, event.id));
    const publicRead = await request(tenant.url(`/api/v1/events/${event.id}/cover`));
    expect(publicRead.status).toBe(200);
    expect(publicRead.headers.get('cache-control')).toBe('public, max-age=300');
  });

  it('needs events:write to upload a cover and organization:manage for the logo', async () => {
    const { tenant } = await setup();
    const event = await createEvent(tenant);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    expect(
      (await put(tenant, `/api/v1/events/${event.id}/cover`, staffToken, await png(16, 16), 'image/png')).status,
    ).toBe(403);
    const { token: organizerToken } = await memberWithToken(tenant, 'organizer');
    expect(
      (await put(tenant, '/api/v1/organization/logo', organizerToken, await png(16, 16), 'image/png')).status,
    ).toBe(403);
    expect(
      (await put(tenant, `/api/v1/events/${event.id}/cover`, organizerToken, await png(16, 16), 'image/png')).status,
    ).toBe(200);
    const anonymous = await request(tenant.url('/api/v1/organization/logo'), {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: (await png(16, 16)) as Uint8Array<ArrayBuffer>,
    });
    expect(anonymous.status).toBe(401);
  });

  it('deleting a draft event deletes its cover', async () => {
    const { tenant, token } = await setup();
    const event = await createEvent(tenant, { status: 'draft' });
    await uploaded(await put(tenant, `/api/v1/events/${event.id}/cover`, token, await png(16, 16), 'image/png'));
    expect(await objectsOf(tenant)).toHaveLength(1);
    const removal = await request(tenant.url(`/api/v1/events/${event.id}`), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(removal.status).toBe(204);
    expect(await objectsOf(tenant)).toEqual([]);
    expect(await fileRows(tenant)).toEqual([]);
  });
});
