import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { paymentSettings } from '../../src/db/schema/index.ts';
import { DecryptionError, decryptSecret, encryptSecret } from '../../src/lib/crypto.ts';
import { auditRows } from '../support/auth.ts';
import { book, checkout } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  problem,
  request,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { randomStripeKeys } from '../support/stripe.ts';

const PATH = '/api/v1/organization/payment-settings';
const encryptionKey = (env as unknown as { DATA_ENCRYPTION_KEY: string }).DATA_ENCRYPTION_KEY;

async function ownerToken(tenant: TestTenant): Promise<string> {
  return tokenFor(tenant, await createMember(tenant, 'owner'));
}

function getSettings(tenant: TestTenant, token: string) {
  return request(tenant.url(PATH), { headers: bearer(token) });
}

function putSettings(tenant: TestTenant, token: string, body: unknown) {
  return request(tenant.url(PATH), { method: 'PUT', headers: bearer(token), body: JSON.stringify(body) });
}

async function storedRow(tenant: TestTenant) {
  const [row] = await database()
    .select()
    .from(paymentSettings)
    .where(eq(paymentSettings.organizationId, tenant.organization.id));
  return row;
}

describe('GET /api/v1/organization/payment-settings', () => {
  it('answers the defaults before anything is configured: manual payment off (opt-in), no Stripe', async () => {
    const tenant = await createTenant();
    const response = await getSettings(tenant, await ownerToken(tenant));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      manualEnabled: false,
      manualInstructions: '',
      stripe: { configured: false, accountHint: null, mode: null },
    });
  });

  it('needs billing:manage: organizers and admins are refused, anonymous callers need to sign in', async () => {
    const tenant = await createTenant();
    for (const role of ['organizer', 'admin', 'staff']) {
      const token = await tokenFor(tenant, await createMember(tenant, role));
      const read = await getSettings(tenant, token);
      expect(read.status, role).toBe(403);
      expect((await problem(read)).code).toBe('forbidden');
      const write = await putSettings(tenant, token, { manualEnabled: false });
      expect(write.status, role).toBe(403);
    }
    expect((await request(tenant.url(PATH))).status).toBe(401);
    // Nothing was written by the refused requests.
    expect(await storedRow(tenant)).toBeUndefined();
  });

  it('is not served on the platform host', async () => {
    const response = await request(`http://localhost${PATH}`);
    expect(response.status).toBe(404);
  });
});

describe('PUT /api/v1/organization/payment-settings', () => {
  it('stores Stripe keys encrypted and never returns them', async () => {
    const tenant = await createTenant();
    const token = await ownerToken(tenant);
    const keys = randomStripeKeys();
    const response = await putSettings(tenant, token, { stripe: keys });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(keys.secretKey);
    expect(text).not.toContain(keys.webhookSecret);
    expect(text).not.toContain(keys.secretKey.slice(8, 28));
    expect(JSON.parse(text)).toEqual({
      manualEnabled: false,
      manualInstructions: '',
      stripe: { configured: true, accountHint: `sk_test_…${keys.secretKey.slice(-4)}`, mode: 'test' },
    });

    const read = await getSettings(tenant, token);
    const readText = await read.text();
    expect(readText).toBe(text);

    const row = await storedRow(tenant);
    expect(row?.stripeSecretKey).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(row?.stripeWebhookSecret).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(row?.stripeSecretKey).not.toContain(keys.secretKey);
    expect(row?.stripeSecretKey).not.toContain(keys.secretKey.slice(-10));
    expect(row?.stripeWebhookSecret).not.toContain(keys.webhookSecret.slice(6));
    // Decrypts with the deployment key, for this organization and purpose only.
    const context = { organizationId: tenant.organization.id, purpose: 'stripe_secret_key' } as const;
    expect(await decryptSecret(encryptionKey, context, row?.stripeSecretKey ?? '')).toBe(keys.secretKey);
    await expect(
      decryptSecret(encryptionKey, { ...context, purpose: 'stripe_webhook_secret' }, row?.stripeSecretKey ?? ''),
    ).rejects.toBeInstanceOf(DecryptionError);

    const [audit] = await auditRows(tenant.organization.id, 'payment_settings.updated');
    expect(audit?.metadata).toEqual({ changed: ['stripe'], stripe: 'configured', stripeMode: 'test' });
    expect(JSON.stringify(audit?.metadata)).not.toContain(keys.secretKey);
    expect(JSON.stringify(audit?.metadata)).not.toContain(keys.webhookSecret);
  });

  it('makes Stripe the default for paid orders, and `stripe: null` removes it again', async () => {
    const tenant = await createTenant();
    const token = await ownerToken(tenant);
    const event = await createEvent(tenant);
    const ticketType = await createTicketType(event);
    expect((await putSettings(tenant, token, { stripe: randomStripeKeys('live') })).status).toBe(200);
    const withStripe = await book(tenant, event.slug, { items: [{ ticketTypeId: ticketType.id, quantity: 1 }] });
    expect(withStripe.payment.provider).toBe('stripe');

    const replaced = await putSettings(tenant, token, { stripe: randomStripeKeys('test') });
    expect((await replaced.json<{ stripe: { mode: string } }>()).stripe.mode).toBe('test');

    const removed = await putSettings(tenant, token, { stripe: null });
    expect(removed.status).toBe(200);
    expect((await removed.json<{ stripe: unknown }>()).stripe).toEqual({
      configured: false,
      accountHint: null,
      mode: null,
    });
    const row = await storedRow(tenant);
    expect(row).toMatchObject({ stripeSecretKey: null, stripeWebhookSecret: null, stripeAccountHint: null });
    // Without Stripe and with manual payment not enabled (it is opt-in), paid orders are refused.
    const refused = await checkout(tenant, event.slug, { items: [{ ticketTypeId: ticketType.id, quantity: 1 }] });
    expect(refused.status).toBe(422);
    expect((await putSettings(tenant, token, { manualEnabled: true })).status).toBe(200);
    const withoutStripe = await book(tenant, event.slug, { items: [{ ticketTypeId: ticketType.id, quantity: 1 }] });
    expect(withoutStripe.payment.provider).toBe('manual');

    const audits = await auditRows(tenant.organization.id, 'payment_settings.updated');
    expect(audits.map((audit) => audit.metadata)).toEqual([
      { changed: ['manualEnabled'] },
      { changed: ['stripe'], stripe: 'removed' },
      { changed: ['stripe'], stripe: 'replaced', stripeMode: 'test' },
      { changed: ['stripe'], stripe: 'configured', stripeMode: 'live' },
    ]);
  });

  it('changes only the given fields and audits only real changes', async () => {
    const tenant = await createTenant();
    const token = await ownerToken(tenant);
    const keys = randomStripeKeys();
    await putSettings(tenant, token, { stripe: keys });
    const before = await storedRow(tenant);

    const response = await putSettings(tenant, token, {
      manualEnabled: true,
      manualInstructions: 'Pay to IBAN DE02 1203 0000 0000 2020 51.',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      manualEnabled: true,
      manualInstructions: 'Pay to IBAN DE02 1203 0000 0000 2020 51.',
      stripe: { configured: true, mode: 'test' },
    });
    // The Stripe secrets were left as they were.
    const after = await storedRow(tenant);
    expect(after?.stripeSecretKey).toBe(before?.stripeSecretKey);
    expect(after?.stripeWebhookSecret).toBe(before?.stripeWebhookSecret);

    // The same values again change nothing and write no audit row.
    const again = await putSettings(tenant, token, { manualEnabled: true, stripe: undefined });
    expect(again.status).toBe(200);
    const audits = await auditRows(tenant.organization.id, 'payment_settings.updated');
    expect(audits.map((audit) => audit.metadata)).toEqual([
      { changed: ['manualEnabled', 'manualInstructions'] },
      { changed: ['stripe'], stripe: 'configured', stripeMode: 'test' },
    ]);
  });

  it('refuses malformed keys, half a Stripe configuration and unknown fields with 400, storing nothing', async () => {
    const tenant = await createTenant();
    const token = await ownerToken(tenant);
    const keys = randomStripeKeys();
    const cases: [unknown, string][] = [
      [{ stripe: { ...keys, secretKey: 'pk_test_1234567890abcdef' } }, '/body/stripe/secretKey'],
      [{ stripe: { ...keys, secretKey: 'sk_prod_1234567890abcdef' } }, '/body/stripe/secretKey'],
      [{ stripe: { ...keys, webhookSecret: 'secret_1234567890' } }, '/body/stripe/webhookSecret'],
      [{ stripe: { secretKey: keys.secretKey } }, '/body/stripe/webhookSecret'],
      [{ stripe: { ...keys, accountId: 'acct_123' } }, '/body/stripe'],
      [{ manualInstructions: 'x'.repeat(5001) }, '/body/manualInstructions'],
      // Stripe's keys are at most 255 characters, as the document states.
      [{ stripe: { ...keys, secretKey: `sk_test_${'a'.repeat(248)}` } }, '/body/stripe/secretKey'],
      [{ stripe: { ...keys, webhookSecret: `whsec_${'a'.repeat(250)}` } }, '/body/stripe/webhookSecret'],
      [{ stripeSecretKey: keys.secretKey }, '/body'],
    ];
    for (const [body, pointer] of cases) {
      const response = await putSettings(tenant, token, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const details = await problem(response);
      expect(details.code).toBe('validation_failed');
      expect(details.errors?.map((error) => error.pointer)).toContain(pointer);
      expect(JSON.stringify(details)).not.toContain(keys.webhookSecret);
    }
    expect(await storedRow(tenant)).toBeUndefined();
  });
});

describe('Stripe key lengths', () => {
  it('accepts keys of up to 255 characters and shows only their hint', async () => {
    const tenant = await createTenant();
    const token = await ownerToken(tenant);
    const secretKey = `sk_live_${'b'.repeat(243)}wxyz`;
    expect(secretKey).toHaveLength(255);
    const response = await putSettings(tenant, token, {
      stripe: { secretKey, webhookSecret: `whsec_${'c'.repeat(249)}` },
    });
    expect(response.status).toBe(200);
    const body: { stripe: { accountHint: string; mode: string } } = await response.json();
    expect(body.stripe).toMatchObject({ accountHint: 'sk_live_…wxyz', mode: 'live' });
  });
});

describe('secrets at rest (src/lib/crypto.ts)', () => {
  it('binds a ciphertext to its organization: copied to another organization it does not decrypt', async () => {
    const context = { organizationId: crypto.randomUUID(), purpose: 'stripe_secret_key' } as const;
    const stored = await encryptSecret(encryptionKey, context, 'sk_test_abcdefghij1234');
    expect(await decryptSecret(encryptionKey, context, stored)).toBe('sk_test_abcdefghij1234');
    // A fresh IV every time.
    expect(await encryptSecret(encryptionKey, context, 'sk_test_abcdefghij1234')).not.toBe(stored);
    await expect(
      decryptSecret(encryptionKey, { ...context, organizationId: crypto.randomUUID() }, stored),
    ).rejects.toBeInstanceOf(DecryptionError);
    const [version, iv, ciphertext] = stored.split('.') as [string, string, string];
    const flipped = `${ciphertext.startsWith('A') ? 'B' : 'A'}${ciphertext.slice(1)}`;
    for (const tampered of [`${version}.${iv}.${flipped}`, `v2.${iv}.${ciphertext}`, `${version}.${iv}`, 'garbage']) {
      await expect(decryptSecret(encryptionKey, context, tampered)).rejects.toBeInstanceOf(DecryptionError);
    }
    const otherKey = 'A'.repeat(43);
    await expect(decryptSecret(otherKey, context, stored)).rejects.toBeInstanceOf(DecryptionError);
  });
});
