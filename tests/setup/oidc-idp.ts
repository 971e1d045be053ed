import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider, { type ClientAuthMethod, type KoaContextWithOIDC } from 'oidc-provider';
import type { IdpAccount, SocialIdp } from './provided-context.ts';
import { samlifyLoginResponse, type LoginResponseRequest } from './samlify-idp.ts';
import { closeServer } from '../../dev/gateways/keep-alive.ts';

/**
 * A real OpenID Provider for the SSO tests: panva's `oidc-provider` (OpenID Certified), on a loopback port, in Node
 * (workerd cannot listen). What a test does with it, as an integrator would with Okta or Entra ID:
 *
 * - registers a client for its organization's callback URL through the provider's own Dynamic Client Registration
 *   (`POST /reg`, RFC 7591), so every test has its own client id and secret;
 * - creates the user the IdP will sign in: `POST /__accounts` with `{ sub, email, email_verified, name, groups }`;
 * - publishes a document for the Worker to fetch (an IdP's SAML metadata): `PUT /__documents/<name>`, then
 *   `GET /__documents/<name>`;
 * - signs in: the authorization request must carry `login_hint=<sub>` (the Worker passes the caller's `loginHint`
 *   through); the interaction step logs that account in and grants the requested scopes without a form, which is
 *   the only part of the provider that is scripted. Everything else (PKCE, state, nonce, code, token endpoint, client
 *   authentication, ID token signing, JWKS, userinfo) is the certified implementation's.
 *
 * ID tokens carry the scope's claims (`conformIdTokenClaims: false`, like Google and Entra ID), and `groups` is a
 * scope of its own (like Okta's).
 *
 * It also stands in for the social providers (SOCIAL_ISSUERS, honoured by the Worker in the local environment only):
 * for Google and LinkedIn as it is, for Microsoft as a second provider mounted at a tenant's path with Entra ID's
 * multi-tenant discovery in front. The platform's clients (SOCIAL_LOGIN_CREDENTIALS) are registered statically with
 * the platform host's callback, as the platform operator registers them at the real providers.
 */
export interface OidcIdp {
  issuer: string;
  /** The social providers' stand-ins (see SocialIdp). */
  social: SocialIdp;
  /** The Worker's SOCIAL_ISSUERS and SOCIAL_LOGIN_CREDENTIALS for this IdP (platform clients pre-registered here). */
  socialVars: Record<string, string>;
  close(): Promise<void>;
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

/** The Worker's platform callback (ROOT_DOMAIN `localhost` in the tests): the platform clients' redirect URI. */
const PLATFORM_CALLBACK = 'http://localhost/api/v1/sso/callback';
const MICROSOFT_TENANT_ID = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';

/** A platform client of a social provider, pre-registered (static clients), as the platform operator would. */
function platformClient(provider: string, authMethod: 'client_secret_basic' | 'client_secret_post') {
  return {
    client_id: `platform-${provider}`,
    client_secret: `platform-${provider}-secret-0123456789`,
    redirect_uris: [PLATFORM_CALLBACK],
    token_endpoint_auth_method: authMethod,
  };
}

function createProvider(
  issuer: string,
  accounts: Map<string, Omit<IdpAccount, 'sub'>>,
  clients: ReturnType<typeof platformClient>[],
  interactionPrefix: string,
  clientAuthMethods: ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'],
): Provider {
  // The IdP's own signing key for this run (oidc-provider's quick-start keys are for development only).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return new Provider(issuer, {
    clients,
    clientAuthMethods,
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-idp', use: 'sig', alg: 'RS256' }] },
    features: {
      registration: { enabled: true },
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    claims: {
      openid: ['sub', 'tid'],
      email: ['email', 'email_verified', 'xms_edov'],
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
    interactions: {
      url: (_ctx: KoaContextWithOIDC, interaction) => `${interactionPrefix}/interaction/${interaction.uid}`,
    },
    renderError: (ctx: KoaContextWithOIDC, out) => {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });
}

/** The provider's requests: the scripted login step (the account named by `login_hint`), else the provider itself. */
async function serve(
  provider: Provider,
  accounts: Map<string, Omit<IdpAccount, 'sub'>>,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://idp').pathname;
  if (path.startsWith('/interaction/') && request.method === 'GET') {
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
  let handler = handlers.get(provider);
  if (handler === undefined) {
    handler = provider.callback();
    handlers.set(provider, handler);
  }
  await handler(request, response);
}

const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();

export async function startOidcIdp(): Promise<OidcIdp> {
  const accounts = new Map<string, Omit<IdpAccount, 'sub'>>();
  const documents = new Map<string, string>();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the OIDC IdP did not get a port');
  const origin = `http://127.0.0.1:${String(address.port)}`;
  const issuer = origin;
  // The root provider is the enterprise IdP and Google's stand-in; Microsoft's and LinkedIn's are mounted under
  // their issuers' paths (LinkedIn takes client_secret_post only, as linkedin.com does).
  const provider = createProvider(issuer, accounts, [platformClient('google', 'client_secret_basic')], '');
  const microsoftPrefix = `/ms/${MICROSOFT_TENANT_ID}/v2.0`;
  const linkedinPrefix = '/linkedin/oauth';
  const mounted = new Map([
    [
      microsoftPrefix,
      createProvider(
        `${origin}${microsoftPrefix}`,
        accounts,
        [platformClient('microsoft', 'client_secret_basic')],
        microsoftPrefix,
      ),
    ],
    [
      linkedinPrefix,
      createProvider(
        `${origin}${linkedinPrefix}`,
        accounts,
        [platformClient('linkedin', 'client_secret_post')],
        linkedinPrefix,
        ['client_secret_post'],
      ),
    ],
  ]);

  server.on('request', (request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', origin);
      // Documents a test publishes for the Worker to fetch (an IdP's SAML metadata URL): PUT, then GET.
      const document = /^\/__documents\/([\w-]{1,64})$/.exec(url.pathname);
      if (document?.[1] !== undefined && request.method === 'PUT') {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        documents.set(document[1], Buffer.concat(chunks).toString('utf8'));
        response.writeHead(204).end();
        return;
      }
      if (document?.[1] !== undefined && request.method === 'GET') {
        const body = documents.get(document[1]);
        if (body === undefined) response.writeHead(404).end();
        else response.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(body);
        return;
      }
      // samlify's IdP side (tests/setup/samlify-idp.ts): a signed login Response to one of our AuthnRequests.
      if (url.pathname === '/__saml/login-response' && request.method === 'POST') {
        const samlResponse = await samlifyLoginResponse((await readJson(request)) as LoginResponseRequest);
        response.writeHead(200, { 'content-type': 'text/plain' }).end(samlResponse);
        return;
      }
      if (url.pathname === '/__accounts' && request.method === 'POST') {
        const { sub, ...account } = (await readJson(request)) as IdpAccount;
        accounts.set(sub, account);
        response.writeHead(204).end();
        return;
      }
      const multiTenant = /^\/ms\/(organizations|common)\/v2\.0\/\.well-known\/openid-configuration$/.exec(
        url.pathname,
      );
      if (multiTenant !== null) {
        // Microsoft's multi-tenant discovery: the tenant's own document with the issuer template.
        const own = await fetch(`${origin}${microsoftPrefix}/.well-known/openid-configuration`);
        const document = (await own.json()) as Record<string, unknown>;
        const body = JSON.stringify({ ...document, issuer: `${origin}/ms/{tenantid}/v2.0` });
        response.writeHead(200, { 'content-type': 'application/json' }).end(body);
        return;
      }
      for (const [prefix, mountedProvider] of mounted) {
        if (!url.pathname.startsWith(`${prefix}/`)) continue;
        // Mounted under its issuer's path, as Express would: the provider sees the rest.
        (request as http.IncomingMessage & { originalUrl?: string }).originalUrl = request.url;
        request.url = (request.url ?? '/').slice(prefix.length);
        await serve(mountedProvider, accounts, request, response);
        return;
      }
      await serve(provider, accounts, request, response);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(String(error));
    });
  });

  const credentials = (name: 'google' | 'microsoft' | 'linkedin') => ({
    clientId: `platform-${name}`,
    clientSecret: `platform-${name}-secret-0123456789`,
  });
  return {
    issuer,
    social: {
      googleIssuer: issuer,
      microsoftTenantId: MICROSOFT_TENANT_ID,
      linkedinIssuer: `${origin}${linkedinPrefix}`,
    },
    socialVars: {
      SOCIAL_ISSUERS: JSON.stringify({
        google: issuer,
        linkedin: `${origin}${linkedinPrefix}`,
        microsoft: `${origin}/ms/{tenant}/v2.0`,
      }),
      SOCIAL_LOGIN_CREDENTIALS: JSON.stringify({
        google: credentials('google'),
        microsoft: credentials('microsoft'),
        linkedin: credentials('linkedin'),
      }),
    },
    close: () => closeServer(server),
  };
}
