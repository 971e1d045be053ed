import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

/**
 * A real OpenID Provider for the SSO tests: panva's `oidc-provider` (OpenID Certified), on a loopback port, in Node
 * (workerd cannot listen). What a test does with it, as an integrator would with Okta or Entra ID:
 *
 * - registers a client for its organization's callback URL through the provider's own Dynamic Client Registration
 *   (`POST /reg`, RFC 7591), so every test has its own client id and secret;
 * - creates the user the IdP will sign in: `POST /__accounts` with `{ sub, email, email_verified, name, groups }`;
 * - signs in: the authorization request must carry `login_hint=<sub>` (the Worker passes the caller's `loginHint`
 *   through); the interaction step logs that account in and grants the requested scopes without a form, which is
 *   the only part of the provider that is scripted. Everything else (PKCE, state, nonce, code, token endpoint, client
 *   authentication, ID token signing, JWKS, userinfo) is the certified implementation's.
 *
 * ID tokens carry the scope's claims (`conformIdTokenClaims: false`, like Google and Entra ID), and `groups` is a
 * scope of its own (like Okta's).
 */
export interface OidcIdp {
  issuer: string;
  close(): Promise<void>;
}

interface Account {
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

export async function startOidcIdp(): Promise<OidcIdp> {
  const accounts = new Map<string, Account>();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the OIDC IdP did not get a port');
  const issuer = `http://127.0.0.1:${String(address.port)}`;

  // The IdP's own signing key for this run (oidc-provider's quick-start keys are for development only).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-idp', use: 'sig', alg: 'RS256' }] },
    features: {
      registration: { enabled: true },
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: ['eventra-test-idp-cookie-key'] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    findAccount: (_ctx: KoaContextWithOIDC, sub: string) => {
      const account = accounts.get(sub);
      if (account === undefined) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
    renderError: (ctx: KoaContextWithOIDC, out) => {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });
  const callback = provider.callback();

  server.on('request', (request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', issuer);
      if (url.pathname === '/__accounts' && request.method === 'POST') {
        const { sub, ...account } = (await readJson(request)) as Account & { sub: string };
        accounts.set(sub, account);
        response.writeHead(204).end();
        return;
      }
      if (url.pathname.startsWith('/interaction/') && request.method === 'GET') {
        const details = await provider.interactionDetails(request, response);
        const hint = details.params.login_hint;
        const clientId = details.params.client_id;
        if (typeof hint !== 'string' || !accounts.has(hint) || typeof clientId !== 'string') {
          await provider.interactionFinished(
            request,
            response,
            { error: 'access_denied', error_description: 'no such test account' },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        const grant = new provider.Grant({ accountId: hint, clientId });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(
          request,
          response,
          { login: { accountId: hint }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      await callback(request, response);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(String(error));
    });
  });

  return {
    issuer,
    // workerd keeps its connections alive: close them, or close() waits for them forever.
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
