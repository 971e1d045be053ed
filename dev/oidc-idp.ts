import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import pg from 'pg';
import { closeServer } from './gateways/keep-alive.ts';

/*
 * The local identity provider of `npm run dev`: panva's `oidc-provider` (the same certified OpenID Provider the tests
 * sign in against) with its development login and consent pages, so a newcomer can click through single sign-on
 * with no account anywhere. Any login and password are accepted; the login is the account: `admin@globex.test`
 * signs in as that seeded account (the IdP asserts the email as verified), any other word `<word>@globex.test`, and
 * a login starting with `admin` is in the group `eventra-admins` (mapped to the admin role).
 *
 * The demo organization `globex` (enterprise, so it has the `sso` feature) gets an OIDC connection to it, written
 * at every start (its issuer and callback follow the ports).
 */

/** The seeded connection's id: fixed, so every start updates the one connection. */
export const DEV_SSO_CONNECTION_ID = '0d5e1c2b-3a4f-4b6c-8d7e-9f0a1b2c3d4e';
export const DEV_SSO_ORGANIZATION = 'globex';
const CLIENT_ID = 'eventra-dev';

export interface DevIdp {
  issuer: string;
  close(): Promise<void>;
}

/** Starts the IdP on 127.0.0.1:`port` (issuer `http://localhost:<port>`), its client the organization's callback. */
export async function startDevIdp(options: { port: number; callbackUrl: string }): Promise<DevIdp> {
  const issuer = `http://localhost:${String(options.port)}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      // A public client (no secret: nothing to keep in .eventra/ or the database); PKCE S256 binds the code.
      { client_id: CLIENT_ID, redirect_uris: [options.callbackUrl], token_endpoint_auth_method: 'none' },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'dev-idp', use: 'sig', alg: 'RS256' }] },
    features: { devInteractions: { enabled: true } },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    conformIdTokenClaims: false,
    cookies: { keys: ['eventra-dev-idp-cookie-key'] },
    findAccount: (_ctx: KoaContextWithOIDC, sub: string) => ({
      accountId: sub,
      claims: () => {
        const login = sub.trim().toLowerCase();
        const email = login.includes('@') ? login : `${login.replace(/[^a-z0-9._-]/g, '') || 'user'}@globex.test`;
        return {
          sub,
          email,
          email_verified: true,
          name: email.split('@')[0] ?? email,
          groups: login.startsWith('admin') ? ['eventra-admins'] : [],
        };
      },
    }),
  });
  const callback = provider.callback();
  const server = http.createServer((request, response) => {
    void callback(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  return {
    issuer,
    close: () => closeServer(server),
  };
}

/**
 * Writes globex's connection to the dev IdP (created, or updated to this start's issuer): JIT on with the staff
 * role, `eventra-admins` -> admin. Directly in the database as the schema owner, like the seed.
 */
export async function seedDevSsoConnection(databaseUrl: string, options: { issuer: string }): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const found = await client.query<{ id: string; role_id: string }>(
      `SELECT o.id, r.id AS role_id FROM organizations o JOIN roles r ON r.organization_id = o.id AND r.key = 'staff'
        WHERE o.slug = $1`,
      [DEV_SSO_ORGANIZATION],
    );
    const organization = found.rows[0];
    if (organization === undefined) return;
    const config = {
      issuer: options.issuer,
      clientId: CLIENT_ID,
      scopes: ['openid', 'email', 'profile', 'groups'],
      claims: { email: 'email', name: 'name', groups: 'groups' },
    };
    await client.query(
      `INSERT INTO sso_connections (id, organization_id, type, name, enabled, jit, default_role_id, role_mapping, config)
       VALUES ($1, $2, 'oidc', 'Local IdP (npm run dev)', true, true, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()`,
      [
        DEV_SSO_CONNECTION_ID,
        organization.id,
        organization.role_id,
        JSON.stringify({ 'eventra-admins': 'admin' }),
        JSON.stringify(config),
      ],
    );
  } finally {
    await client.end();
  }
}
