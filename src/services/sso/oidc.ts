import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import type { OidcConnectionConfig } from '../../db/schema/sso.ts';
import type { Bindings } from '../../env.ts';

/*
 * The OpenID Connect relying party of SSO connections, on `oauth4webapi` (panva; OpenID Certified RP library,
 * WebCrypto and fetch only, so it runs in workerd unchanged). What this module adds is the configuration: which
 * issuers may be plain http (loopback in the local environment only: the tests' and dev's IdP) and the per-isolate
 * cache of discovery documents and JWKS.
 */

/** How long an isolate keeps an issuer's discovery document (and its JWKS, by oauth4webapi's own cache). */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
/** Every IdP request is given this long; an IdP that does not answer is a 502, not a hung sign-in. */
const IDP_TIMEOUT_MS = 10_000;

const discoveries = new Map<string, { as: oauth.AuthorizationServer; at: number }>();
const jwksCaches = new Map<string, oauth.JWKSCacheInput>();

/** An IdP request that failed or answered something oauth4webapi refused: its code, never its body. */
export class OidcError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'OidcError';
    this.code = code;
  }
}

function loopbackHttp(issuer: URL, bindings: Pick<Bindings, 'ENVIRONMENT'>): boolean {
  return (
    bindings.ENVIRONMENT === 'local' &&
    issuer.protocol === 'http:' &&
    ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)
  );
}

function requestOptions(issuer: URL, bindings: Pick<Bindings, 'ENVIRONMENT'>) {
  return {
    signal: AbortSignal.timeout(IDP_TIMEOUT_MS),
    // Deprecated by oauth4webapi to stand out: plain http to a loopback IdP, in the local environment only.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    ...(loopbackHttp(issuer, bindings) ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/** Wraps whatever oauth4webapi or fetch threw as an OidcError with a short code (no IdP body, no secret). */
function asOidcError(error: unknown, step: string): OidcError {
  if (error instanceof OidcError) return error;
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
    return new OidcError(`${step}_${error.error}`, error.error_description ?? error.error);
  }
  if (error instanceof oauth.OperationProcessingError) return new OidcError(`${step}_rejected`, error.message);
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new OidcError(`${step}_timeout`, 'The identity provider did not answer in time.');
  }
  return new OidcError(`${step}_failed`, error instanceof Error ? error.message : 'The request failed.');
}

/**
 * Microsoft Entra ID's multi-tenant endpoints (`/organizations/v2.0`, `/common/v2.0`) publish one discovery document
 * whose issuer is the template `https://login.microsoftonline.com/{tenantid}/v2.0`; each ID token's issuer is the
 * template with the token's own `tid` (a GUID).
 */
const TENANT_ID_PLACEHOLDER = '{tenantid}';
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The issuer's discovery document (`<issuer>/.well-known/openid-configuration`), cached per isolate. Its `issuer`
 * must be `expectedIssuer`: the issuer itself, except for Microsoft's multi-tenant endpoints (social.ts), whose
 * document names the `{tenantid}` template or the consumers' tenant.
 */
export async function discover(
  issuerUrl: string,
  bindings: Pick<Bindings, 'ENVIRONMENT'>,
  expectedIssuer = issuerUrl,
  now = Date.now(),
): Promise<oauth.AuthorizationServer> {
  const cached = discoveries.get(issuerUrl);
  if (cached !== undefined && now - cached.at < DISCOVERY_TTL_MS) return cached.as;
  const issuer = new URL(issuerUrl);
  try {
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(issuer, bindings) });
    // URL comparison (oauth4webapi's): `{tenantid}` is percent-encoded alike on both sides.
    const as = await oauth.processDiscoveryResponse(new URL(expectedIssuer), response);
    if (as.authorization_endpoint === undefined || as.token_endpoint === undefined || as.jwks_uri === undefined) {
      throw new OidcError('discovery_incomplete', 'The discovery document lacks an endpoint sign-in needs.');
    }
    discoveries.set(issuerUrl, { as, at: now });
    return as;
  } catch (error) {
    throw asOidcError(error, 'discovery');
  }
}

export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The IdP's authorization URL for a code flow with PKCE (S256), `state` and `nonce`, all freshly random. */
export async function authorizationRequest(
  as: oauth.AuthorizationServer,
  config: OidcConnectionConfig,
  redirectUri: string,
  loginHint: string | undefined,
): Promise<AuthorizationRequest> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint ?? '');
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', config.scopes.join(' '));
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  if (loginHint !== undefined) url.searchParams.set('login_hint', loginHint);
  return { url: url.toString(), state, nonce, codeVerifier };
}

export interface CodeExchange {
  config: OidcConnectionConfig;
  clientSecret: string | null;
  redirectUri: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/**
 * The callback's parameters checked (`state`, the RFC 9207 `iss` when the IdP sends it, an error response), the code
 * exchanged at the token endpoint with the client's secret (client_secret_basic; a public client without one), and
 * the ID token validated: issuer, audience, `azp`, expiry and issued-at (with oauth4webapi's clock tolerance),
 * `nonce`, and its signature with a key of the issuer's JWKS. Resolves to the ID token's claims.
 */
export async function exchangeCode(
  as: oauth.AuthorizationServer,
  callbackUrl: URL,
  exchange: CodeExchange,
  bindings: Pick<Bindings, 'ENVIRONMENT'>,
): Promise<oauth.IDToken> {
  const issuer = new URL(exchange.config.issuer);
  const client: oauth.Client = { client_id: exchange.config.clientId };
  const multiTenant = as.issuer.includes(TENANT_ID_PLACEHOLDER);
  // A multi-tenant IdP's RFC 9207 `iss` names the user's tenant: the template with a tenant id, never another issuer.
  const responseIssuer = multiTenant ? callbackUrl.searchParams.get('iss') : null;
  let parameters: URLSearchParams;
  try {
    if (responseIssuer !== null && tenantOf(as.issuer, responseIssuer) === null) {
      throw new OidcError('authorization_issuer_mismatch', 'The response names another issuer.');
    }
    parameters = oauth.validateAuthResponse(
      responseIssuer === null ? as : { ...as, issuer: responseIssuer },
      client,
      callbackUrl,
      exchange.state,
    );
  } catch (error) {
    throw asOidcError(error, 'authorization');
  }
  try {
    const auth =
      exchange.clientSecret === null
        ? oauth.None()
        : // client_secret_basic unless the IdP takes only client_secret_post (LinkedIn).
          (as.token_endpoint_auth_methods_supported ?? ['client_secret_basic']).includes('client_secret_basic')
          ? oauth.ClientSecretBasic(exchange.clientSecret)
          : oauth.ClientSecretPost(exchange.clientSecret);
    const options = requestOptions(issuer, bindings);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      auth,
      parameters,
      exchange.redirectUri,
      exchange.codeVerifier,
      options,
    );
    const expected = multiTenant ? await tenantIssuer(as, response, responseIssuer) : as;
    const result = await oauth.processAuthorizationCodeResponse(expected, client, response, {
      expectedNonce: exchange.nonce,
      requireIdToken: true,
    });
    let jwksCache = jwksCaches.get(exchange.config.issuer);
    if (jwksCache === undefined) {
      jwksCache = {};
      jwksCaches.set(exchange.config.issuer, jwksCache);
    }
    await oauth.validateApplicationLevelSignature(as, response, { ...options, [oauth.jwksCache]: jwksCache });
    const claims = oauth.getValidatedIdTokenClaims(result);
    if (claims === undefined) throw new OidcError('token_no_id_token', 'The token response has no ID token.');
    return claims;
  } catch (error) {
    throw asOidcError(error, 'token');
  }
}

/** The tenant id `issuer` has where `template` has `{tenantid}`; null when it is not the template's. */
function tenantOf(template: string, issuer: string): string | null {
  const at = template.indexOf(TENANT_ID_PLACEHOLDER);
  const prefix = template.slice(0, at);
  const suffix = template.slice(at + TENANT_ID_PLACEHOLDER.length);
  if (!issuer.startsWith(prefix) || !issuer.endsWith(suffix)) return null;
  const tenant = issuer.slice(prefix.length, issuer.length - suffix.length);
  return TENANT_ID.test(tenant) ? tenant : null;
}

/**
 * The authorization server as this token response's ID token must match it, for a multi-tenant IdP: the issuer is
 * the template with the token's `tid` (read before validation only to name the issuer every claim is then checked
 * against; the signature is verified after), and the tenant the authorization response named, when it named one.
 */
async function tenantIssuer(
  as: oauth.AuthorizationServer,
  response: Response,
  responseIssuer: string | null,
): Promise<oauth.AuthorizationServer> {
  const body: unknown = await response
    .clone()
    .json()
    .catch(() => null);
  const idToken = typeof body === 'object' && body !== null && 'id_token' in body ? body.id_token : undefined;
  let tid: unknown;
  try {
    tid = typeof idToken === 'string' ? decodeJwt(idToken).tid : undefined;
  } catch {
    tid = undefined;
  }
  if (typeof tid !== 'string' || !TENANT_ID.test(tid)) {
    throw new OidcError('token_no_tenant', 'The ID token names no tenant (tid).');
  }
  const issuer = as.issuer.replace(TENANT_ID_PLACEHOLDER, tid);
  if (responseIssuer !== null && responseIssuer !== issuer) {
    throw new OidcError('token_issuer_mismatch', 'The ID token comes from another tenant than the response.');
  }
  return { ...as, issuer };
}
