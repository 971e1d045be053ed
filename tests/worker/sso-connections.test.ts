import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { decryptSecret } from '../../src/lib/crypto.ts';
import { bindings } from '../support/plans.ts';
import { createTenant, database, newRequestId, problem, roundTrips } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

const BODY = {
  type: 'oidc',
  name: 'Acme Okta',
  defaultRole: 'staff',
  roleMapping: { 'eventra-admins': 'admin' },
  oidc: { issuer: 'https://login.example.com', clientId: 'eventra-acme', clientSecret: 'very-secret-value' },
};

async function admin(plan: 'pro' | 'enterprise' = 'enterprise') {
  const tenant = await createTenant({ plan });
  const { member, token } = await memberWithToken(tenant, 'admin');
  return { tenant, member, token };
}

interface ConnectionBody {
  id: string;
  defaultRole: string;
  oidc: { clientSecretSet: boolean; scopes: string[]; claims: Record<string, string> };
}

describe('SSO connections', () => {
  it('creates a connection with its secret encrypted and never returned, audited, in one round trip', async () => {
    const { tenant, token } = await admin();
    // A first request resolves the tenant into the isolate's cache: the measured one is the steady state.
    expect((await call(tenant, 'GET', '/api/v1/sso/connections', { token })).status).toBe(200);
    const requestId = newRequestId();
    const response = await call(tenant, 'POST', '/api/v1/sso/connections', {
      token,
      body: BODY,
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(response.headers.get('location')).toBe(
      tenant.url(`/api/v1/sso/connections/${(JSON.parse(text) as { id: string }).id}`),
    );
    expect(text).not.toContain('very-secret-value');
    const created = JSON.parse(text) as ConnectionBody;
    expect(created.defaultRole).toBe('staff');
    expect(created.oidc).toMatchObject({
      clientSecretSet: true,
      scopes: ['openid', 'email', 'profile'],
      claims: { email: 'email', name: 'name', groups: 'groups' },
    });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const db = database();
    const stored = await db.execute<{ client_secret_encrypted: string }>(
      sql`select client_secret_encrypted from sso_connections where id = ${created.id}`,
    );
    const encrypted = stored.rows[0]?.client_secret_encrypted ?? '';
    expect(encrypted).not.toContain('very-secret-value');
    expect(
      await decryptSecret(
        bindings().DATA_ENCRYPTION_KEY,
        { organizationId: tenant.organization.id, purpose: 'sso_client_secret' },
        encrypted,
      ),
    ).toBe('very-secret-value');
    const audits = await db.execute<{ action: string; target_id: string }>(
      sql`select action, target_id from audit_logs where organization_id = ${tenant.organization.id} and action like 'sso_connection.%'`,
    );
    expect(audits.rows).toEqual([{ action: 'sso_connection.created', target_id: created.id }]);

    const listed = await call(tenant, 'GET', '/api/v1/sso/connections', { token });
    expect(listed.status).toBe(200);
    const list = await listed.json<{ items: ConnectionBody[] }>();
    expect(list.items.map((item) => item.id)).toEqual([created.id]);
    const got = await call(tenant, 'GET', `/api/v1/sso/connections/${created.id}`, { token });
    expect(got.status).toBe(200);
    expect(await got.text()).not.toContain('very-secret');
  });

  it('refuses an unknown default role with 400 and writes no audit row', async () => {
    const { tenant, token } = await admin();
    const response = await call(tenant, 'POST', '/api/v1/sso/connections', {
      token,
      body: { ...BODY, defaultRole: 'nosuchrole' },
    });
    expect(response.status).toBe(400);
    const audits = await database().execute(
      sql`select 1 from audit_logs where organization_id = ${tenant.organization.id} and action like 'sso_connection.%'`,
    );
    expect(audits.rows).toHaveLength(0);
  });

  it('refuses a plain-http or non-URL issuer', async () => {
    const { tenant, token } = await admin();
    for (const issuer of [
      'http://login.example.com',
      'javascript:alert(1)',
      'https://login.example.com/?a=b',
      // The Worker fetches the issuer: never a private or metadata address, nor another port.
      'https://10.0.0.1',
      'https://169.254.169.254/latest',
      'https://login.example.com:8443',
    ]) {
      const response = await call(tenant, 'POST', '/api/v1/sso/connections', {
        token,
        body: { ...BODY, oidc: { ...BODY.oidc, issuer } },
      });
      expect(response.status, issuer).toBe(400);
    }
  });

  it('needs the sso plan feature and the sso:manage permission', async () => {
    const pro = await admin('pro');
    const refused = await call(pro.tenant, 'GET', '/api/v1/sso/connections', { token: pro.token });
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('feature_unavailable');
    const tenant = await createTenant({ plan: 'enterprise' });
    const { token } = await memberWithToken(tenant, 'organizer');
    const forbidden = await call(tenant, 'GET', '/api/v1/sso/connections', { token });
    expect(forbidden.status).toBe(403);
  });

  it("answers 404 for another organization's connection, and deletes with an audit row", async () => {
    const first = await admin();
    const second = await admin();
    const created = await call(first.tenant, 'POST', '/api/v1/sso/connections', { token: first.token, body: BODY });
    const { id } = await created.json<ConnectionBody>();
    for (const method of ['GET', 'DELETE']) {
      const response = await call(second.tenant, method, `/api/v1/sso/connections/${id}`, { token: second.token });
      expect(response.status).toBe(404);
    }
    const deleted = await call(first.tenant, 'DELETE', `/api/v1/sso/connections/${id}`, { token: first.token });
    expect(deleted.status).toBe(204);
    const again = await call(first.tenant, 'DELETE', `/api/v1/sso/connections/${id}`, { token: first.token });
    expect(again.status).toBe(404);
    const audits = await database().execute<{ action: string }>(
      sql`select action from audit_logs where organization_id = ${first.tenant.organization.id} and action like 'sso_connection.%' order by created_at`,
    );
    expect(audits.rows.map((row) => row.action)).toEqual(['sso_connection.created', 'sso_connection.deleted']);
    const otherAudits = await database().execute(
      sql`select 1 from audit_logs where organization_id = ${second.tenant.organization.id} and action like 'sso_connection.%'`,
    );
    expect(otherAudits.rows).toHaveLength(0);
  });
});
