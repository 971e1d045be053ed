import { env } from 'cloudflare:workers';
import { createLocalJWKSet, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { JwksResponse } from '../../src/routes/meta/jwks.ts';
import { AUDIENCE, issuer } from '../../src/services/auth/tokens.ts';
import { createMember, createTenant, problem, randomSlug, request, tokenFor } from '../support/harness.ts';
import { PLATFORM } from '../support/organizations.ts';

const bindings = () => readBindings(env as unknown as Record<string, unknown>);

async function jwks(url: string): Promise<{ response: Response; body: JwksResponse }> {
  const response = await request(url);
  return { response, body: await response.clone().json<JwksResponse>() };
}

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public half of every configured key, and never a private member', async () => {
    const { response, body } = await jwks(`${PLATFORM}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');

    const configured = JSON.parse(bindings().JWT_SIGNING_KEYS) as { kid: string; x: string; y: string }[];
    expect(body.keys).toEqual(
      configured.map(({ kid, x, y }) => ({ kty: 'EC', crv: 'P-256', kid, x, y, alg: 'ES256', use: 'sig' })),
    );
    for (const key of body.keys) expect(Object.keys(key)).not.toContain('d');
    expect(await response.text()).not.toMatch(/"d"\s*:/);
  });

  it("lists the kid of the tokens' header first", async () => {
    const tenant = await createTenant();
    const token = await tokenFor(tenant, await createMember(tenant, 'member'));
    const { body } = await jwks(`${PLATFORM}/.well-known/jwks.json`);
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(body.keys[0]?.kid).toBe(header.kid);
  });

  it('verifies an access token issued by Eventra with the published keys alone', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'admin');
    const token = await tokenFor(tenant, member);
    const { body } = await jwks(tenant.url('/.well-known/jwks.json'));
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(body), {
      algorithms: ['ES256'],
      issuer: issuer(bindings().ROOT_DOMAIN),
      audience: AUDIENCE,
      typ: 'at+jwt',
    });
    expect(protectedHeader.kid).toBe(body.keys[0]?.kid);
    expect(payload).toMatchObject({ sub: member.userId, org: tenant.organization.id, role: 'admin' });
  });

  it('rejects a token signed by another key when verified with the published keys', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const { body } = await jwks(`${PLATFORM}/.well-known/jwks.json`);
    const forged = await new SignJWT({ org: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: body.keys[0]?.kid ?? '', typ: 'at+jwt' })
      .setIssuer(issuer(bindings().ROOT_DOMAIN))
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(privateKey);
    await expect(jwtVerify(forged, createLocalJWKSet(body), { algorithms: ['ES256'] })).rejects.toThrow(
      /signature verification failed/,
    );
  });

  it('is served the same on organization hosts, without authentication', async () => {
    const tenant = await createTenant();
    const platform = await jwks(`${PLATFORM}/.well-known/jwks.json`);
    const onTenant = await jwks(tenant.url('/.well-known/jwks.json'));
    expect(onTenant.response.status).toBe(200);
    expect(onTenant.body).toEqual(platform.body);
  });

  it('answers 404 on an unknown host', async () => {
    const response = await request(`http://${randomSlug('nope')}.localhost/.well-known/jwks.json`);
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
  });
});
