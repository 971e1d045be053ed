import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, issuer, PLATFORM_TENANT } from '../../src/services/auth/tokens.ts';
import { base64url, bindings, claimsOf, loginAs } from '../support/auth.ts';
import { bearer, createMember, createTenant, problem, request, type TestTenant } from '../support/harness.ts';

/** The Worker's own signing key (the first of JWT_SIGNING_KEYS), for tokens that are valid except for one thing. */
async function ourKey() {
  const [jwk] = JSON.parse(bindings().JWT_SIGNING_KEYS) as (JWK & { kid: string })[];
  if (!jwk) throw new Error('no signing key');
  return { kid: jwk.kid, key: await importJWK({ ...jwk, alg: 'ES256' }, 'ES256') };
}

interface Forgery {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  omit?: string[];
  key?: Awaited<ReturnType<typeof ourKey>>['key'];
  now?: number;
}

/** A token like the Worker's, signed with its key, with one thing changed. */
async function forge(tenant: TestTenant, userId: string, forgery: Forgery = {}): Promise<string> {
  const { kid, key } = await ourKey();
  const now = forgery.now ?? Math.floor(Date.now() / 1000);
  const all: Record<string, unknown> = {
    org: tenant.organization.id,
    sid: crypto.randomUUID(),
    role: 'member',
    perms: [],
    ev: true,
    ist: now * 1000,
    auth_time: now - 60,
    amr: ['pwd'],
    iss: issuer(bindings().ROOT_DOMAIN),
    aud: AUDIENCE,
    sub: userId,
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 900,
    ...forgery.claims,
  };
  const omitted = new Set(forgery.omit);
  const claims = Object.fromEntries(Object.entries(all).filter(([name]) => !omitted.has(name)));
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...forgery.header })
    .sign(forgery.key ?? key);
}

async function expectRefused(tenant: TestTenant, token: string, detail?: string): Promise<void> {
  const response = await request(tenant.url('/api/v1/auth/me'), { headers: bearer(token) });
  expect(response.status).toBe(401);
  const body = await problem(response);
  expect(body.code).toBe('unauthorized');
  if (detail !== undefined) expect(body.detail).toBe(detail);
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
}

describe('access-token verification', () => {
  it('accepts a well-formed forged-for-test token, so each refusal below has one cause', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const response = await request(tenant.url('/api/v1/auth/me'), {
      headers: bearer(await forge(tenant, member.userId)),
    });
    expect(response.status).toBe(200);
  });

  it('refuses impersonation claims that are not objects, or name a mode it does not know', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const sid = crypto.randomUUID();
    const act = { sub: crypto.randomUUID() };
    const imp = { id: sid, mode: 'read_only' };
    for (const claims of [
      { act: 'support', imp },
      { act, imp: null },
      { act, imp: { ...imp, mode: 'read_write' } },
    ]) {
      await expectRefused(tenant, await forge(tenant, member.userId, { claims: { sid, ...claims } }));
    }
  });

  it('refuses a token of organization A on the host of organization B', async () => {
    const home = await createTenant();
    const away = await createTenant();
    const member = await createMember(home, 'admin');
    await createMember(away, 'admin', { email: member.email });
    const session = await loginAs(home, member);
    await expectRefused(away, session.accessToken, 'The access token is not valid on this host.');
    const platform = await request('http://localhost/api/v1/auth/logout', {
      method: 'POST',
      headers: bearer(session.accessToken),
    });
    expect(platform.status).toBe(401);
  });

  it('refuses a token whose signature or payload was tampered with', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const [header, payload, signature] = session.accessToken.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectRefused(tenant, `${header}.${payload}.${flipped}`, 'The access token is invalid.');
    const escalated = base64url({ ...claimsOf(session.accessToken), role: 'owner', perms: ['users:manage'] });
    await expectRefused(tenant, `${header}.${escalated}.${signature}`, 'The access token is invalid.');
  });

  it('refuses an expired token (beyond the 30 s skew)', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const past = Math.floor(Date.now() / 1000) - 3600;
    await expectRefused(tenant, await forge(tenant, member.userId, { now: past }), 'The access token has expired.');
  });

  it('refuses alg none and HS256 tokens', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const valid = await forge(tenant, member.userId);
    const payload = valid.split('.')[1] ?? '';
    await expectRefused(tenant, `${base64url({ alg: 'none', typ: 'at+jwt' })}.${payload}.AAAA`);
    // HS256 keyed with our public key: the classic algorithm-confusion attack.
    const [jwk] = JSON.parse(bindings().JWT_SIGNING_KEYS) as JWK[];
    const publicKey = new TextEncoder().encode(JSON.stringify({ kty: jwk?.kty, crv: jwk?.crv, x: jwk?.x, y: jwk?.y }));
    const { kid } = await ourKey();
    const hs256 = await new SignJWT(claimsOf(valid))
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .sign(publicKey);
    await expectRefused(tenant, hs256, 'The access token is invalid.');
  });

  it('refuses a wrong typ, an unknown kid, a foreign key, a wrong issuer or audience', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    expect((await exportJWK(privateKey)).kty).toBe('EC');
    const cases: Forgery[] = [
      { header: { typ: 'JWT' } },
      { header: { kid: 'unknown-kid' } },
      { key: privateKey },
      { claims: { iss: 'https://evil.example' } },
      { claims: { aud: 'another-api' } },
    ];
    for (const forgery of cases) {
      await expectRefused(tenant, await forge(tenant, member.userId, forgery), 'The access token is invalid.');
    }
  });

  it('refuses a token without a kid header, even one signed with our key', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    await expectRefused(
      tenant,
      await forge(tenant, member.userId, { header: { kid: undefined } }),
      'The access token is invalid.',
    );
  });

  it('refuses an iat or ist in the future beyond the 30 s skew, and an ist that is not the iat', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const now = Math.floor(Date.now() / 1000);
    const cases: Forgery[] = [
      // Issued in an hour, so still unexpired then.
      { now: now + 3600 },
      // A future `ist` under a current `iat`: it would outlive a logout-all ("revoked before") record.
      { claims: { ist: (now + 3600) * 1000 } },
      { claims: { ist: (now - 60) * 1000 } },
      { claims: { ist: '1' } },
    ];
    for (const forgery of cases) {
      await expectRefused(tenant, await forge(tenant, member.userId, forgery));
    }
    // Within the clock tolerance a token from a server slightly ahead still works.
    const ahead = await forge(tenant, member.userId, { now: now + 20 });
    expect((await request(tenant.url('/api/v1/auth/me'), { headers: bearer(ahead) })).status).toBe(200);
  });

  it('refuses tokens with missing or malformed claims', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const cases: Forgery[] = [
      { omit: ['sid'] },
      { omit: ['ist'] },
      { claims: { perms: ['root:everything'] } },
      { claims: { perms: 'events:read' } },
      { claims: { ev: 'yes' } },
      { claims: { role: 7 } },
      { claims: { sub: 42 } },
      { claims: { jti: 42 } },
      { claims: { org: 1 } },
      { omit: ['jti'] },
      { omit: ['auth_time'] },
      { omit: ['amr'] },
      { claims: { auth_time: '1' } },
      { claims: { auth_time: 1.5 } },
      // A sign-in after the token it produced.
      { claims: { auth_time: Math.floor(Date.now() / 1000) + 120 } },
      { claims: { amr: 'pwd' } },
      { claims: { amr: [1] } },
    ];
    for (const forgery of cases) {
      await expectRefused(tenant, await forge(tenant, member.userId, forgery), 'The access token is invalid.');
    }
  });

  it('refuses a platform-tenant token on an organization host and malformed authorization headers', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'owner');
    await expectRefused(
      tenant,
      await forge(tenant, member.userId, { claims: { org: PLATFORM_TENANT, role: 'platform_admin' } }),
      'The access token is not valid on this host.',
    );
    for (const authorization of [
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer a.b',
      `bearer ${await forge(tenant, member.userId)}`,
    ]) {
      const response = await request(tenant.url('/api/v1/auth/me'), { headers: { authorization } });
      expect(response.status).toBe(401);
      expect((await problem(response)).detail).toBe(
        'Send the access token or API key as `Authorization: Bearer <token>`.',
      );
    }
  });
});
