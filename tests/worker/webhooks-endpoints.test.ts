import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { readBindings } from '../../src/middleware/bindings.ts';
import { EVENT_PAYLOAD_VERSION, EVENT_TYPES } from '../../src/services/outbox/catalogue.ts';
import { decryptWebhookSecret } from '../../src/services/webhooks/secrets.ts';
import { checkWebhookUrl, parseIpv4, parseIpv6 } from '../../src/services/webhooks/url.ts';
import { createTenant, problem, type TestTenant } from '../support/harness.ts';
import { call, createCustomRole, memberWithToken } from '../support/users.ts';
import {
  deliveriesOf,
  endpointRow,
  newHook,
  outboxEvent,
  queueWorld,
  consumeOne,
  setEndpoint,
  webhookAudits,
} from '../support/webhooks.ts';

const bindings = () => readBindings(env as unknown as Record<string, unknown>);
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

interface EndpointBody {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

async function admin() {
  // Webhooks are a feature of the pro plan (starter answers 403 feature_unavailable).
  const tenant = await createTenant({ plan: 'pro' });
  const { member, token } = await memberWithToken(tenant, 'admin');
  return { tenant, member, token };
}

async function createEndpoint(tenant: TestTenant, token: string, body: Record<string, unknown>) {
  const response = await call(tenant, 'POST', '/api/v1/webhooks', { token, body });
  expect(response.status).toBe(201);
  return response.json<EndpointBody>();
}

describe('POST /api/v1/webhooks', () => {
  it('creates an endpoint, shows the secret once and stores it encrypted', async () => {
    const { tenant, member, token } = await admin();
    const hook = await newHook();
    const response = await call(tenant, 'POST', '/api/v1/webhooks', {
      token,
      body: {
        url: hook.url,
        description: 'CRM sync',
        eventTypes: ['booking.confirmed', 'booking.cancelled', 'booking.confirmed'],
      },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const created = await response.json<EndpointBody>();
    expect(created).toMatchObject({
      url: hook.url,
      description: 'CRM sync',
      eventTypes: ['booking.confirmed', 'booking.cancelled'],
      enabled: true,
      disabledReason: null,
      failingSince: null,
      previousSecretExpiresAt: null,
    });
    expect(created.secret).toMatch(SECRET);
    const secret = created.secret ?? '';

    // Never shown again.
    const read = await call(tenant, 'GET', `/api/v1/webhooks/${created.id}`, { token });
    expect(read.status).toBe(200);
    const body = await read.json<EndpointBody>();
    expect(body).not.toHaveProperty('secret');
    expect(JSON.stringify(body)).not.toContain(secret.slice(6));
    const list = await call(tenant, 'GET', '/api/v1/webhooks', { token });
    expect(JSON.stringify(await list.json())).not.toContain(secret.slice(6));

    // Encrypted at rest, bound to the organization.
    const row = await endpointRow(created.id);
    expect(row?.secret).toMatch(/^v1\./);
    expect(row?.secret).not.toContain(secret.slice(6));
    expect(await decryptWebhookSecret(bindings(), tenant.organization.id, row?.secret ?? '')).toBe(secret);
    await expect(decryptWebhookSecret(bindings(), crypto.randomUUID(), row?.secret ?? '')).rejects.toThrow();

    const [audit] = await webhookAudits(tenant, 'webhook_endpoint.created');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'webhook_endpoint', targetId: created.id });
    expect(JSON.stringify(audit?.metadata)).not.toContain(secret.slice(6));
  });

  it('gives every endpoint its own secret; an empty filter means every type', async () => {
    const { tenant, token } = await admin();
    const hook = await newHook();
    const first = await createEndpoint(tenant, token, { url: hook.url });
    const second = await createEndpoint(tenant, token, { url: hook.url, enabled: false });
    expect(first.secret).not.toBe(second.secret);
    expect(first).toMatchObject({ eventTypes: [], description: '', enabled: true });
    expect(second.enabled).toBe(false);
  });

  it.each([
    ['an unknown field', { url: 'https://hooks.example.com/x', secret: 'whsec_mine' }, '/body'],
    [
      'an event type outside the catalogue',
      { url: 'https://hooks.example.com/x', eventTypes: ['booking.eaten'] },
      '/body/eventTypes/0',
    ],
    ['no url', { description: 'x' }, '/body/url'],
    [
      'a control character in the description',
      { url: 'https://hooks.example.com/x', description: 'a\u0007b' },
      '/body/description',
    ],
    [
      'a description over 500 characters',
      { url: 'https://hooks.example.com/x', description: 'x'.repeat(501) },
      '/body/description',
    ],
    ['a non-boolean enabled', { url: 'https://hooks.example.com/x', enabled: 'yes' }, '/body/enabled'],
  ])('answers 400 for %s', async (_label, body, pointer) => {
    const { tenant, token } = await admin();
    const response = await call(tenant, 'POST', '/api/v1/webhooks', { token, body });
    expect(response.status).toBe(400);
    const details = await problem(response);
    expect(details.code).toBe('validation_failed');
    expect(details.errors?.map((error) => error.pointer)).toContain(pointer);
    expect(await webhookAudits(tenant, 'webhook_endpoint.created')).toEqual([]);
  });

  it.each([
    'http://hooks.example.com/x',
    'ftp://hooks.example.com/x',
    'https://user:password@hooks.example.com/x',
    'https://hooks.example.com:8443/x',
    'https://10.0.0.7/x',
    'https://172.16.5.4/x',
    'https://192.168.1.1/x',
    'https://100.64.0.1/x',
    'https://169.254.169.254/latest/meta-data/',
    'https://0.0.0.0/x',
    'https://224.0.0.1/x',
    'https://2852039166/x',
    'https://0xa9fea9fe/x',
    'https://0251.0376.0251.0376/x',
    'https://10.1/x',
    'https://[fd00:ec2::254]/x',
    'https://[fe80::1]/x',
    'https://[::ffff:169.254.169.254]/x',
    'https://[::ffff:a00:1]/x',
    'https://[64:ff9b::a00:1]/x',
    'https://[2002:a00:1::]/x',
    'https://[ff02::1]/x',
    'https://[::]/x',
    'https://metadata.google.internal/computeMetadata/v1/',
    'https://anything.internal/x',
    'https://api.localhost/x',
    'https://printer.local/x',
    'https://intranet/x',
    'not a url',
  ])('refuses %s with 400 at create', async (url) => {
    const { tenant, token } = await admin();
    const response = await call(tenant, 'POST', '/api/v1/webhooks', { token, body: { url } });
    expect(response.status).toBe(400);
    const details = await problem(response);
    expect(details.errors).toEqual([{ pointer: '/body/url', message: expect.any(String) as unknown }]);
  });
});

describe('URL rules outside the local environment', () => {
  const refused = [
    'http://example.com/',
    'https://localhost/',
    'https://LOCALHOST./',
    'http://127.0.0.1:8080/',
    'https://127.0.0.1/',
    'https://127.1/',
    'https://2130706433/',
    'https://0x7f000001/',
    'https://0177.0.0.1/',
    'https://[::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[0:0:0:0:0:ffff:7f00:1]/',
    'https://[::127.0.0.1]/',
    'https://[2001:db8::1]/',
    'https://[2001::1]/',
    'https://[fc00::1]/',
    'https://198.18.0.1/',
    'https://192.0.2.10/',
    'https://255.255.255.255/',
    'https://168.63.129.16/',
    'https://100.100.100.200/',
    'https://example.com:80/',
    'https://metadata.google.internal/',
    'https://x.localdomain/',
    'https://router.home.arpa/',
  ];
  it.each(refused)('refuses %s', (url) => {
    const check = checkWebhookUrl(url, 'production');
    expect(check.ok).toBe(false);
  });

  it.each([
    ['https://hooks.example.com/eventra?x=1', 'https://hooks.example.com/eventra?x=1'],
    ['https://hooks.example.com:443/a', 'https://hooks.example.com/a'],
    ['https://8.8.8.8/hook', 'https://8.8.8.8/hook'],
    ['https://[2606:4700::1111]/hook', 'https://[2606:4700::1111]/hook'],
    ['https://[::ffff:8.8.8.8]/hook', 'https://[::ffff:808:808]/hook'],
    ['https://Bücher.example/hook', 'https://xn--bcher-kva.example/hook'],
  ])('accepts %s as %s', (url, normalised) => {
    const check = checkWebhookUrl(url, 'production');
    expect(check.ok && check.url.href).toBe(normalised);
  });

  it('refuses a URL whose normalised form (the one stored, shown and called) exceeds 2048 characters', () => {
    const raw = `https://hooks.example.com/${'é'.repeat(1000)}`;
    expect(raw.length).toBeLessThanOrEqual(2048);
    const check = checkWebhookUrl(raw, 'production');
    expect(check).toEqual({ ok: false, reason: expect.stringContaining('once normalised') as unknown });
    const fits = `https://hooks.example.com/${'é'.repeat(300)}`;
    const accepted = checkWebhookUrl(fits, 'production');
    expect(accepted.ok && accepted.url.href.length).toBe(26 + 300 * 6);
  });

  it('allows loopback over http on any port only in the local environment, never with credentials', () => {
    for (const url of ['http://127.0.0.1:8787/hook', 'http://localhost:3000/hook', 'https://[::1]:8443/hook']) {
      expect(checkWebhookUrl(url, 'local').ok).toBe(true);
      expect(checkWebhookUrl(url, 'staging').ok).toBe(false);
    }
    expect(checkWebhookUrl('http://user:pw@127.0.0.1:8787/hook', 'local').ok).toBe(false);
    expect(checkWebhookUrl('http://127.0.0.2:8787/hook', 'local').ok).toBe(false);
  });

  it('parses IPv4 and IPv6 literals the way the URL standard does', () => {
    expect(parseIpv4('127.0.0.1')).toBe(0x7f000001);
    expect(parseIpv4('2130706433')).toBe(0x7f000001);
    expect(parseIpv4('0x7f.1')).toBe(0x7f000001);
    expect(parseIpv4('0177.0.0.01')).toBe(0x7f000001);
    expect(parseIpv4('1.2.3.4.5')).toBeNull();
    expect(parseIpv4('256.1.1.1')).toBeNull();
    expect(parseIpv4('1.2.65536')).toBeNull();
    expect(parseIpv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIpv6('::ffff:10.0.0.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]);
    expect(parseIpv6('2001:db8::8:800:200c:417a')).toEqual([0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]);
    expect(parseIpv6('1::2::3')).toBeNull();
    expect(parseIpv6('1:2:3:4:5:6:7:8:9')).toBeNull();
  });
});

describe('GET /api/v1/webhooks', () => {
  it('lists the organization’s endpoints oldest first with cursor pagination', async () => {
    const { tenant, token } = await admin();
    const hook = await newHook();
    const created = [];
    for (let index = 0; index < 3; index += 1) {
      created.push(await createEndpoint(tenant, token, { url: hook.url, description: `n${String(index)}` }));
    }
    const other = await admin();
    await createEndpoint(other.tenant, other.token, { url: hook.url });

    const first = await call(tenant, 'GET', '/api/v1/webhooks?limit=2', { token });
    expect(first.status).toBe(200);
    const page = await first.json<{ data: EndpointBody[]; nextCursor: string | null }>();
    expect(page.data.map((endpoint) => endpoint.id)).toEqual(created.slice(0, 2).map((endpoint) => endpoint.id));
    const second = await call(tenant, 'GET', `/api/v1/webhooks?limit=2&cursor=${page.nextCursor ?? ''}`, { token });
    const rest = await second.json<{ data: EndpointBody[]; nextCursor: string | null }>();
    expect(rest).toEqual({ data: [expect.objectContaining({ id: created[2]?.id }) as unknown], nextCursor: null });

    expect((await call(tenant, 'GET', '/api/v1/webhooks?limit=0', { token })).status).toBe(400);
    expect((await call(tenant, 'GET', '/api/v1/webhooks?cursor=nope!', { token })).status).toBe(400);
    expect((await call(tenant, 'GET', '/api/v1/webhooks?enabled=true', { token })).status).toBe(400);
  });
});

describe('GET /api/v1/webhooks/event-types', () => {
  it('lists the catalogue', async () => {
    const { tenant, token } = await admin();
    const response = await call(tenant, 'GET', '/api/v1/webhooks/event-types', { token });
    expect(response.status).toBe(200);
    const body = await response.json<{ version: string; data: { type: string; description: string }[] }>();
    expect(body.version).toBe(EVENT_PAYLOAD_VERSION);
    expect(body.data).toEqual(Object.entries(EVENT_TYPES).map(([type, description]) => ({ type, description })));
    expect(body.data.map((entry) => entry.type)).not.toContain('webhook.test');
  });
});

describe('PUT /api/v1/webhooks/{id}', () => {
  it('changes the given fields and audits the values before', async () => {
    const { tenant, token } = await admin();
    const hook = await newHook();
    const other = await newHook();
    const created = await createEndpoint(tenant, token, { url: hook.url, eventTypes: ['event.created'] });
    const response = await call(tenant, 'PUT', `/api/v1/webhooks/${created.id}`, {
      token,
      body: { url: other.url, eventTypes: [], description: 'all events' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      id: created.id,
      url: other.url,
      eventTypes: [],
      description: 'all events',
      enabled: true,
    });
    expect(await endpointRow(created.id)).toMatchObject({ url: other.url, eventTypes: [] });
    const [audit] = await webhookAudits(tenant, 'webhook_endpoint.updated');
    expect(audit?.metadata).toEqual({
      fields: ['url', 'description', 'eventTypes'],
      before: { url: hook.url, description: '', eventTypes: ['event.created'] },
    });

    // Nothing to change: nothing written.
    const same = await call(tenant, 'PUT', `/api/v1/webhooks/${created.id}`, { token, body: { eventTypes: [] } });
    expect(same.status).toBe(200);
    expect(await webhookAudits(tenant, 'webhook_endpoint.updated')).toHaveLength(1);
  });

  it('enabling an endpoint the platform disabled clears the reason and the failure run', async () => {
    const { tenant, token } = await admin();
    const created = await createEndpoint(tenant, token, { url: (await newHook()).url });
    await setEndpoint(created.id, {
      enabled: false,
      disabledReason: 'The endpoint answered 410 Gone.',
      failingSince: new Date(Date.now() - 3_600_000),
    });
    const response = await call(tenant, 'PUT', `/api/v1/webhooks/${created.id}`, { token, body: { enabled: true } });
    expect(await response.json()).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
    const off = await call(tenant, 'PUT', `/api/v1/webhooks/${created.id}`, { token, body: { enabled: false } });
    expect(await off.json()).toMatchObject({ enabled: false, disabledReason: null });
  });

  it('refuses a URL the platform will not call, an unknown field and an unknown event type; nothing changes', async () => {
    const { tenant, token } = await admin();
    const hook = await newHook();
    const created = await createEndpoint(tenant, token, { url: hook.url });
    for (const body of [
      { url: 'https://169.254.169.254/' },
      { url: 'http://example.com/' },
      { secret: 'whsec_x' },
      { eventTypes: ['nope'] },
    ]) {
      const response = await call(tenant, 'PUT', `/api/v1/webhooks/${created.id}`, { token, body });
      expect(response.status).toBe(400);
    }
    expect(await endpointRow(created.id)).toMatchObject({ url: hook.url, eventTypes: [] });
    expect(await webhookAudits(tenant, 'webhook_endpoint.updated')).toEqual([]);
  });
});

describe('DELETE /api/v1/webhooks/{id}', () => {
  it('deletes the endpoint with its deliveries and audits it', async () => {
    const { tenant, token } = await admin();
    const created = await createEndpoint(tenant, token, { url: (await newHook()).url });
    const world = queueWorld();
    const event = await outboxEvent(tenant, 'event.created');
    await consumeOne(world, event.fanout);
    expect(await deliveriesOf(created.id)).toHaveLength(1);

    const response = await call(tenant, 'DELETE', `/api/v1/webhooks/${created.id}`, { token });
    expect(response.status).toBe(204);
    expect(await endpointRow(created.id)).toBeUndefined();
    expect(await deliveriesOf(created.id)).toEqual([]);
    expect(await webhookAudits(tenant, 'webhook_endpoint.deleted')).toMatchObject([{ targetId: created.id }]);
    // The queued attempt finds nothing to do.
    const [message] = world.webhooks.take('webhook.deliver');
    if (!message) throw new Error('no deliver message');
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });
    expect((await call(tenant, 'DELETE', `/api/v1/webhooks/${created.id}`, { token })).status).toBe(404);
  });
});

describe('POST /api/v1/webhooks/{id}/rotate-secret', () => {
  it('returns a new secret once and keeps the previous one for 24 hours', async () => {
    const { tenant, token } = await admin();
    const created = await createEndpoint(tenant, token, { url: (await newHook()).url });
    const before = await endpointRow(created.id);
    const response = await call(tenant, 'POST', `/api/v1/webhooks/${created.id}/rotate-secret`, { token });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const rotated = await response.json<EndpointBody>();
    expect(rotated.secret).toMatch(SECRET);
    expect(rotated.secret).not.toBe(created.secret);
    const expires = Date.parse(rotated.previousSecretExpiresAt ?? '');
    expect(expires).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(expires).toBeLessThan(Date.now() + 25 * 3_600_000);

    const row = await endpointRow(created.id);
    expect(row?.previousSecret).toBe(before?.secret);
    expect(await decryptWebhookSecret(bindings(), tenant.organization.id, row?.secret ?? '')).toBe(rotated.secret);
    expect(await decryptWebhookSecret(bindings(), tenant.organization.id, row?.previousSecret ?? '')).toBe(
      created.secret,
    );
    const [audit] = await webhookAudits(tenant, 'webhook_endpoint.secret_rotated');
    expect(audit).toMatchObject({ targetId: created.id, metadata: { overlapHours: 24 } });
    expect(JSON.stringify(audit?.metadata)).not.toContain((rotated.secret ?? '').slice(6));

    const read = await call(tenant, 'GET', `/api/v1/webhooks/${created.id}`, { token });
    const body = await read.json<EndpointBody>();
    expect(body).not.toHaveProperty('secret');
    expect(body.previousSecretExpiresAt).toBe(rotated.previousSecretExpiresAt);
  });
});

describe('access', () => {
  it('needs webhooks:manage: 401 anonymous, 403 for organizers and staff, allowed for owners and custom roles', async () => {
    const { tenant, token } = await admin();
    const created = await createEndpoint(tenant, token, { url: (await newHook()).url });
    const paths: [string, string][] = [
      ['GET', '/api/v1/webhooks'],
      ['POST', '/api/v1/webhooks'],
      ['GET', '/api/v1/webhooks/event-types'],
      ['GET', `/api/v1/webhooks/${created.id}`],
      ['PUT', `/api/v1/webhooks/${created.id}`],
      ['DELETE', `/api/v1/webhooks/${created.id}`],
      ['POST', `/api/v1/webhooks/${created.id}/rotate-secret`],
      ['POST', `/api/v1/webhooks/${created.id}/test`],
      ['GET', `/api/v1/webhooks/${created.id}/deliveries`],
      ['POST', `/api/v1/webhook-deliveries/${crypto.randomUUID()}/redeliver`],
    ];
    const { token: organizer } = await memberWithToken(tenant, 'organizer');
    const { token: staff } = await memberWithToken(tenant, 'staff');
    for (const [method, path] of paths) {
      const body = method === 'POST' || method === 'PUT' ? { description: 'x' } : undefined;
      expect((await call(tenant, method, path, body === undefined ? {} : { body })).status).toBe(401);
      expect((await call(tenant, method, path, { token: organizer, ...(body ? { body } : {}) })).status).toBe(403);
      expect((await call(tenant, method, path, { token: staff, ...(body ? { body } : {}) })).status).toBe(403);
    }
    expect(await endpointRow(created.id)).toBeDefined();

    const { token: owner } = await memberWithToken(tenant, 'owner');
    expect((await call(tenant, 'GET', `/api/v1/webhooks/${created.id}`, { token: owner })).status).toBe(200);
    await createCustomRole(tenant, 'integrator', ['webhooks:manage']);
    const { token: integrator } = await memberWithToken(tenant, 'integrator');
    expect((await call(tenant, 'GET', '/api/v1/webhooks', { token: integrator })).status).toBe(200);
  });

  it("answers 404 for another organization's endpoint and changes nothing", async () => {
    const { tenant, token } = await admin();
    const other = await admin();
    const foreign = await createEndpoint(other.tenant, other.token, { url: (await newHook()).url });
    const before = await endpointRow(foreign.id);
    for (const [method, path, body] of [
      ['GET', `/api/v1/webhooks/${foreign.id}`, undefined],
      ['PUT', `/api/v1/webhooks/${foreign.id}`, { description: 'mine now' }],
      ['DELETE', `/api/v1/webhooks/${foreign.id}`, undefined],
      ['POST', `/api/v1/webhooks/${foreign.id}/rotate-secret`, undefined],
      ['GET', `/api/v1/webhooks/${foreign.id}/deliveries`, undefined],
    ] as const) {
      const response = await call(tenant, method, path, { token, ...(body ? { body } : {}) });
      expect(response.status).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
    expect(await endpointRow(foreign.id)).toEqual(before);
    expect((await call(tenant, 'GET', '/api/v1/webhooks/not-a-uuid', { token })).status).toBe(400);
  });
});
