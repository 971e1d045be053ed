import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/schema/index.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import {
  apiKeyRecordKey,
  type ApiKeyRecord,
  generateApiKey,
  lastUseWrite,
  parseApiKeyRecord,
  presentedApiKey,
  storeApiKeyRecord,
  TOMBSTONE_TTL_SECONDS,
} from '../../src/services/auth/api-key-credentials.ts';
import {
  createApiKey,
  listApiKeys,
  renameApiKey,
  revokeApiKey,
  revokeOutgrownApiKeys,
} from '../../src/services/auth/api-keys.ts';
import type { Principal } from '../../src/services/auth/tokens.ts';
import { createTenant, database } from '../support/harness.ts';
import { bindings, redis } from '../support/plans.ts';
import { memberWithToken, serviceContextFor } from '../support/users.ts';

const RECORD: ApiKeyRecord = {
  organizationId: crypto.randomUUID(),
  userId: crypto.randomUUID(),
  environment: 'live',
  permissions: ['events:read'],
  keyHash: 'a'.repeat(64),
  expiresAt: null,
  createdAt: 1_700_000_000_000,
};

function keyPrincipal(id: string): Principal {
  return {
    userId: crypto.randomUUID(),
    tenant: crypto.randomUUID(),
    sessionId: id,
    role: 'api_key',
    permissions: new Set(),
    emailVerified: true,
    issuedAtMs: Date.now(),
    authTime: Math.floor(Date.now() / 1000),
    amr: [],
    credential: 'api_key',
    apiKey: { id, environment: 'live', expiresAt: null },
  };
}

describe('API key credentials', () => {
  it('round-trips a generated key through its checksum, and refuses a key made under another secret', async () => {
    const secret = bindings().DATA_ENCRYPTION_KEY;
    const created = await generateApiKey(secret, 'test');
    expect(await presentedApiKey(secret, created.key)).toEqual({
      id: created.id,
      environment: 'test',
      key: created.key,
    });
    const other = await generateApiKey('B'.repeat(43), 'test');
    await expect(presentedApiKey(secret, other.key)).rejects.toBeInstanceOf(ApiError);
    // The secret's derived key is cached per value: the first secret still verifies after the other one was used.
    expect((await presentedApiKey(secret, created.key)).id).toBe(created.id);
  });

  it('parses records as Redis returns them, and treats anything else as absent', () => {
    expect(parseApiKeyRecord(null)).toBeNull();
    expect(parseApiKeyRecord(undefined)).toBeNull();
    expect(parseApiKeyRecord(RECORD)).toEqual(RECORD);
    expect(parseApiKeyRecord(JSON.stringify(RECORD))).toEqual(RECORD);
    expect(parseApiKeyRecord(JSON.stringify({ revoked: true }))).toEqual({ revoked: true });
    expect(parseApiKeyRecord('{not json')).toBeNull();
    expect(parseApiKeyRecord({ ...RECORD, keyHash: 'short' })).toBeNull();
    expect(parseApiKeyRecord(42)).toBeNull();
  });

  it('stores records with the right lifetime: until expiry, for ever, or a tombstone for 30 days', async () => {
    const client = redis();
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()] as const;
    const now = Date.now();
    await storeApiKeyRecord(client, ids[0], { ...RECORD, expiresAt: now + 60_000 }, {}, now);
    await storeApiKeyRecord(client, ids[1], RECORD);
    await storeApiKeyRecord(client, ids[2], { revoked: true });
    const ttls = await Promise.all(ids.map((id) => client.pttl(apiKeyRecordKey(id))));
    expect(ttls[0]).toBeGreaterThan(50_000);
    expect(ttls[0]).toBeLessThanOrEqual(60_000);
    expect(ttls[1]).toBe(-1);
    expect(ttls[2]).toBeGreaterThan((TOMBSTONE_TTL_SECONDS - 60) * 1000);
    // A refill never replaces a record that exists (a revocation's tombstone above all).
    await storeApiKeyRecord(client, ids[2], RECORD, { onlyIfAbsent: true });
    expect(await client.get(apiKeyRecordKey(ids[2]))).toEqual({ revoked: true });
  });

  it('writes a last use at most once a minute per key, never for a session, and bounds what it remembers', () => {
    const db = database();
    const id = crypto.randomUUID();
    const now = Date.now();
    expect(lastUseWrite(db, { ...keyPrincipal(id), apiKey: undefined, credential: 'session' }, null, now)).toBeNull();
    expect(lastUseWrite(db, keyPrincipal(id), '203.0.113.1', now)).toBeTypeOf('function');
    expect(lastUseWrite(db, keyPrincipal(id), '203.0.113.1', now + 30_000)).toBeNull();
    expect(lastUseWrite(db, keyPrincipal(id), '203.0.113.1', now + 61_000)).toBeTypeOf('function');
    // Past 10,000 keys the isolate forgets them all (and may write once more each): memory stays bounded.
    for (let index = 0; index < 10_000; index += 1) lastUseWrite(db, keyPrincipal(crypto.randomUUID()), null, now);
    expect(lastUseWrite(db, keyPrincipal(id), '203.0.113.1', now + 62_000)).toBeTypeOf('function');
  });
});

describe('API key services under failure', () => {
  it('creates a working key when Redis is down (the record is refilled later), and answers 503 on revocation', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { ctx } = await serviceContextFor(tenant, token, { redisDown: true });
    const created = await createApiKey({
      ctx,
      input: { name: 'offline', environment: 'live', permissions: ['events:read'] },
    });
    expect(created.status).toBe('active');
    const failed = revokeApiKey({ ctx, input: { id: created.id } });
    await expect(failed).rejects.toMatchObject({ code: 'service_unavailable' });
    // Revoked in the database all the same; the DELETE's retry writes the tombstone.
    const [row] = await database().select().from(apiKeys).where(eq(apiKeys.id, created.id));
    expect(row?.revokedAt).not.toBeNull();
  });

  it('passes database failures through unchanged, with nothing written', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const injected = new Error('injected failure');
    const failing = async () =>
      (await serviceContextFor(tenant, token, { failBatch: { index: 0, error: injected } })).ctx;
    await expect(
      createApiKey({
        ctx: await failing(),
        input: { name: 'x', environment: 'live', permissions: ['events:read'] },
      }),
    ).rejects.toBe(injected);
    const { ctx } = await serviceContextFor(tenant, token);
    const created = await createApiKey({
      ctx,
      input: { name: 'x', environment: 'live', permissions: ['events:read'] },
    });
    await expect(renameApiKey({ ctx: await failing(), input: { id: created.id, name: 'y' } })).rejects.toBe(injected);
    await expect(revokeApiKey({ ctx: await failing(), input: { id: created.id } })).rejects.toBe(injected);
    const rows = await database().select().from(apiKeys).where(eq(apiKeys.organizationId, tenant.organization.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'x', revokedAt: null });
    // The list's default order (newest first) when the caller gives none.
    const again = await createApiKey({ ctx, input: { name: 'z', environment: 'test', permissions: ['events:read'] } });
    const page = await listApiKeys({ ctx, input: { limit: 10 } });
    expect(page.data.map((key) => key.id)).toEqual([again.id, created.id]);
    // Keys within their creator's permissions survive a membership change (no Redis round trip then).
    expect(await revokeOutgrownApiKeys(ctx, tenant.organization.id, [created.createdBy])).toEqual([]);
  });
});
