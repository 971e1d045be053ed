import { NeonDbError } from '@neondatabase/serverless';
import { and, eq, inArray, sql } from 'drizzle-orm';
import * as oauth from 'oauth4webapi';
import {
  memberships,
  refreshTokens,
  roles,
  ssoConnections,
  userIdentities,
  users,
  type OidcConnectionConfig,
  type SocialConnectionConfig,
  type SocialProvider,
  type SsoConnection,
  type SsoConnectionConfig,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { decryptSecret, encryptSecret } from '../../lib/crypto.ts';
import { normalizeEmail, userColumns, type UserRow } from '../auth/account.ts';
import { permissionsOf, session, type Session } from '../auth/grant.ts';
import { AUTH_LIMITS, clientBucket, enforceLimits, withLoginLimit } from '../auth/limits.ts';
import { generateOpaqueToken, hashToken, REFRESH_TOKEN_TTL_SECONDS, SESSION_LIFETIME_SECONDS } from '../auth/tokens.ts';
import { auditInsert } from '../audit/record.ts';
import { fieldError } from '../events/shared.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { isOidcConfig } from './connections.ts';
import { assertRedirectAllowed, redirectAllowed } from './redirects.ts';
import { authorizationRequest, discover, exchangeCode, OidcError } from './oidc.ts';
import {
  claimIsTrue,
  isSocialProvider,
  platformClientSecret,
  platformOrigin,
  socialSignIn,
  SSO_CALLBACK_PATH,
} from './social.ts';
// The SAML XML stack runs in the SAML Worker (src/workers/saml.ts); these are its light API-side parts.
import { SamlConnectionConfigSchema, samlServiceProvider, type SamlConnectionConfig } from './saml/config.ts';
import { consumeSamlResponse, samlCall } from './saml/consume.ts';
import { SamlError } from './saml/errors.ts';
import { SAML_REQUEST_TTL_SECONDS, samlRequestKey } from './saml/keys.ts';

/*
 * Signing in through an organization's OIDC connection, in three requests:
 *
 * 1. POST /api/v1/sso/authorize (the app): checks the app's `redirectUri` against the organization's allow-list,
 *    reads the connection, and answers the IdP's authorization URL (PKCE S256, `state`, `nonce`). The transaction
 *    (the PKCE verifier, the nonce, the app's redirect) waits in Redis under its `state`, single use, 10 minutes.
 * 2. GET /api/v1/sso/callback (the browser, sent back by the IdP): takes the transaction (GETDEL), exchanges the code,
 *    validates the ID token (oauth4webapi: issuer, audience, expiry, nonce, signature from the JWKS), finds or
 *    provisions the member, opens the session, and sends the browser to the app's `redirectUri` with a one-time
 *    `code` (60 seconds) and the app's own `state`. Failures after the transaction is known go back to the app the
 *    same way, as `error` and `error_description` (OAuth's shape); before that, a problem+json.
 * 3. POST /api/v1/sso/token (the app): the one-time code (and the app's PKCE verifier when it sent a challenge) for
 *    the session's tokens. Tokens never travel in a URL.
 */

/** How long an authorization request waits for its callback. */
export const SSO_TRANSACTION_TTL_SECONDS = 600;
/** How long the one-time code of a finished sign-in can be exchanged. */
export const SSO_HANDOFF_TTL_SECONDS = 60;

/** What the callback (OIDC) or the ACS (SAML) needs of the sign-in it finishes, by protocol. */
type ProtocolState =
  | {
      type: 'oidc';
      config: OidcConnectionConfig;
      /** The discovery document's issuer (social.ts: Microsoft's multi-tenant template). */
      expectedIssuer: string;
      /** The claim that vouches for the email (`email_verified`; Microsoft: `xms_edov`). */
      emailVerifiedClaim: string;
      /** A social connection on the platform's client: its secret is read at the callback, never stored here. */
      platformClient: SocialProvider | null;
      clientSecretEncrypted: string | null;
      nonce: string;
      codeVerifier: string;
      callbackUrl: string;
    }
  | { type: 'saml'; requestId: string };

interface SsoTransaction {
  organizationId: string;
  /** The organization's origin the sign-in started on (the platform host's callback sends the browser back there). */
  origin: string;
  connectionId: string;
  protocol: ProtocolState;
  redirectUri: string;
  appState: string | null;
  codeChallenge: string | null;
}

/** A person as the IdP asserts them, whatever the protocol: what completeFederatedSignIn takes. */
export interface FederatedIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
}

interface SsoHandoff {
  organizationId: string;
  user: Omit<UserRow, 'emailVerifiedAt' | 'createdAt'> & { emailVerifiedAt: string | null; createdAt: string };
  sessionId: string;
  role: string;
  permissions: string[];
  refreshTokenEncrypted: string;
  codeChallenge: string | null;
}

const transactionKey = (state: string) => `sso:tx:${state}`;
const handoffKey = async (code: string) => `sso:handoff:${await hashToken(code)}`;

/** The `state` of the IdP's redirect to a callback: 400 naming the parameter when it is missing or too long. */
function callbackState(callbackUrl: URL): string {
  const state = callbackUrl.searchParams.get('state');
  if (state === null || state.length === 0 || state.length > 200) {
    throw fieldError('/query/state', 'Required: the state the identity provider sends back.');
  }
  return state;
}

/**
 * How an OIDC or social connection signs in (null for SAML): a generic OIDC connection's own settings, or the
 * provider's (social.ts).
 */
function oidcSignIn(
  ctx: ServiceContext,
  type: SsoConnection['type'],
  config: SsoConnectionConfig,
): Pick<
  Extract<ProtocolState, { type: 'oidc' }>,
  'config' | 'expectedIssuer' | 'emailVerifiedClaim' | 'platformClient'
> | null {
  if (isOidcConfig(type, config)) {
    return {
      config,
      expectedIssuer: config.issuer,
      emailVerifiedClaim: config.claims.emailVerified ?? 'email_verified',
      platformClient: null,
    };
  }
  if (!isSocialProvider(type)) return null;
  const social = socialSignIn(type, config as SocialConnectionConfig, ctx.bindings);
  return {
    config: social.config,
    expectedIssuer: social.expectedIssuer,
    emailVerifiedClaim: social.emailVerifiedClaim,
    platformClient: social.platformClient ? type : null,
  };
}

/** An enabled connection of this organization (undefined otherwise): one database round trip. */
async function enabledConnection(ctx: ServiceContext, connectionId: string) {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[connection]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        type: ssoConnections.type,
        config: ssoConnections.config,
        clientSecretEncrypted: ssoConnections.clientSecretEncrypted,
      })
      .from(ssoConnections)
      .where(
        and(
          eq(ssoConnections.organizationId, tenant.id),
          eq(ssoConnections.id, connectionId),
          eq(ssoConnections.enabled, true),
        ),
      ),
  ]);
  return connection;
}

function idpError(error: OidcError): ApiError {
  return new ApiError('service_unavailable', {
    detail: `The identity provider could not be used (${error.code}).`,
  });
}

export interface StartSsoInput {
  connectionId: string;
  redirectUri: string;
  state?: string | undefined;
  codeChallenge?: string | undefined;
  loginHint?: string | undefined;
}

/**
 * Step 1: the IdP's authorization URL for an enabled OIDC connection of this organization (404 otherwise, also for
 * another organization's). One database round trip (the connection), one Redis round trip (the limit and the
 * transaction), and the IdP's discovery document when this isolate has not cached it.
 */
export async function startSsoSignIn({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: StartSsoInput;
}): Promise<{ authorizationUrl: string; expiresIn: number }> {
  const tenant = requireTenant(ctx);
  assertRedirectAllowed(ctx, input.redirectUri, '/body/redirectUri');
  const connection = await enabledConnection(ctx, input.connectionId);
  if (connection === undefined) {
    throw new ApiError('not_found', { detail: 'No enabled SSO connection with this id.' });
  }
  const common = {
    organizationId: tenant.id,
    origin: ctx.origin ?? '',
    connectionId: input.connectionId,
    redirectUri: input.redirectUri,
    appState: input.state ?? null,
    codeChallenge: input.codeChallenge ?? null,
  };
  let key: string;
  let authorizationUrl: string;
  let transaction: SsoTransaction;
  // SAML: the outstanding AuthnRequest's ID, remembered for the InResponseTo check.
  let outstanding: { key: string; ttl: number } | null = null;
  const oidc = oidcSignIn(ctx, connection.type, connection.config);
  if (oidc !== null) {
    const { config, expectedIssuer } = oidc;
    const as = await discover(config.issuer, ctx.bindings, expectedIssuer).catch((error: unknown) => {
      throw error instanceof OidcError ? idpError(error) : error;
    });
    // The platform's client has one redirect URI for every organization: the platform host's callback.
    const callbackOrigin = oidc.platformClient === null ? (ctx.origin ?? '') : platformOrigin(ctx.origin, ctx.bindings);
    const callbackUrl = `${callbackOrigin}${SSO_CALLBACK_PATH}`;
    const request = await authorizationRequest(as, config, callbackUrl, input.loginHint);
    key = request.state;
    authorizationUrl = request.url;
    transaction = {
      ...common,
      protocol: {
        type: 'oidc',
        ...oidc,
        clientSecretEncrypted: connection.clientSecretEncrypted,
        nonce: request.nonce,
        codeVerifier: request.codeVerifier,
        callbackUrl,
      },
    };
  } else {
    // The RelayState is the transaction's key: opaque, random, single use (the app's redirect stays here).
    key = oauth.generateRandomState();
    const config = SamlConnectionConfigSchema.parse(connection.config);
    const sp = samlServiceProvider(ctx.origin ?? '', input.connectionId);
    const request = await samlCall(ctx, (saml) => saml.authnRequest({ config, sp, relayState: key }));
    authorizationUrl = request.redirectUrl;
    outstanding = { key: samlRequestKey(input.connectionId, request.requestId), ttl: SAML_REQUEST_TTL_SECONDS };
    transaction = { ...common, protocol: { type: 'saml', requestId: request.requestId } };
  }
  // The limit, the transaction and (SAML) the outstanding AuthnRequest's ID, in one Redis round trip.
  await withLoginLimit(ctx, (batch) => {
    const value = JSON.stringify(transaction);
    const request = outstanding;
    return Promise.all([
      batch.command<unknown>((pipeline) =>
        pipeline.set(transactionKey(key), value, { ex: SSO_TRANSACTION_TTL_SECONDS }),
      ),
      ...(request === null
        ? []
        : [batch.command<unknown>((pipeline) => pipeline.set(request.key, '1', { ex: request.ttl }))]),
    ]);
  });
  return { authorizationUrl, expiresIn: SSO_TRANSACTION_TTL_SECONDS };
}

/** A sign-in that failed after its transaction was known: the app hears it at its redirect URI. */
class SignInRefused extends Error {
  override name = 'SignInRefused';
  readonly error: 'access_denied' | 'server_error' | 'temporarily_unavailable';
  readonly description: string;

  constructor(error: SignInRefused['error'], description: string) {
    super(description);
    this.error = error;
    this.description = description;
  }
}

function appRedirect(transaction: SsoTransaction, parameters: Record<string, string>): string {
  const url = new URL(transaction.redirectUri);
  for (const [key, value] of Object.entries(parameters)) url.searchParams.set(key, value);
  if (transaction.appState !== null) url.searchParams.set('state', transaction.appState);
  return url.toString();
}

/** The claims this connection reads, from the validated ID token. */
function identityOf(
  claims: oauth.IDToken,
  config: OidcConnectionConfig,
  emailVerifiedClaim: string,
): FederatedIdentity {
  const email = claims[config.claims.email];
  const name = claims[config.claims.name];
  const groups = claims[config.claims.groups];
  return {
    subject: claims.sub,
    email: typeof email === 'string' && email.includes('@') ? normalizeEmail(email).slice(0, 320) : null,
    emailVerified: claimIsTrue(claims[emailVerifiedClaim]),
    name: typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 200) : null,
    groups: Array.isArray(groups) ? groups.filter((group): group is string => typeof group === 'string') : [],
  };
}

const memberColumns = {
  ...userColumns,
  membership: memberships.status,
  roleKey: roles.key,
};

/**
 * Step 2: the IdP's redirect. Resolves to where the browser goes next (303): the app's redirect URI with `code` and
 * `state`, or with `error` and `error_description`. A missing, expired, used or other organization's `state` is a
 * 400 problem (there is no app to send the browser to).
 *
 * Who signs in: the user linked to the IdP's subject on this connection; else, the account with the ID token's email
 * when the IdP asserts `email_verified: true` (linked now; never on an unverified claim, so nobody can pre-register a
 * victim's address at an IdP they control and take over the account); else, with just-in-time provisioning on, a
 * new account for that verified email. Without a membership here, JIT creates one; a disabled member is refused; an
 * invited one becomes active. The role: the connection's group mapping (first match, else the default role) at
 * every sign-in when it has one; without a mapping, new members get the default role and others keep theirs; an
 * owner's role is never changed by the IdP, and the IdP can never make anyone an owner.
 *
 * Round trips: one Redis (the limit and the transaction), the IdP (token endpoint, its JWKS unless cached), two
 * database (the read of the subject's and the email's account, the connection and the roles; then the write of
 * everything in one transaction: account, membership, identity, refresh token, audit row), one Redis (the one-time
 * code).
 */
export async function completeSsoSignIn({ ctx, callbackUrl }: { ctx: ServiceContext; callbackUrl: URL }) {
  const tenant = requireTenant(ctx);
  const state = callbackState(callbackUrl);
  const stored = await withLoginLimit(ctx, (batch) =>
    batch.command<SsoTransaction | null>((pipeline) => pipeline.getdel(transactionKey(state))),
  );
  const protocol = stored?.protocol;
  if (stored === null || stored.organizationId !== tenant.id || protocol?.type !== 'oidc') throw unknownSignIn();
  return finishOrRefuse(ctx, stored, () => oidcIdentity(ctx, protocol, callbackUrl, state));
}

/**
 * The platform host's callback: the redirect URI of the platform's social clients (social.ts), shared by every
 * organization. It hands the browser, with the IdP's parameters unchanged, to the callback of the organization the
 * sign-in started on (stored with the sign-in, so nobody can choose where it goes); that callback does everything
 * else. Reads the transaction without taking it; one Redis round trip (the limit and the read), no database.
 */
export async function bounceSsoCallback({ ctx, callbackUrl }: { ctx: ServiceContext; callbackUrl: URL }) {
  const state = callbackState(callbackUrl);
  const stored = await withLoginLimit(ctx, (batch) =>
    batch.command<SsoTransaction | null>((pipeline) => pipeline.get(transactionKey(state))),
  );
  if (stored?.protocol.type !== 'oidc' || stored.protocol.platformClient === null) throw unknownSignIn();
  return `${stored.origin}${SSO_CALLBACK_PATH}${callbackUrl.search}`;
}

function unknownSignIn(): ApiError {
  return new ApiError('bad_request', {
    detail: 'This sign-in is unknown, expired (10 minutes) or already used: start it again from the app.',
  });
}

/**
 * Finishes a sign-in whose transaction is known: the identity from the protocol, then the account and the session
 * (completeFederatedSignIn); the app's redirect URI with the one-time code, or with the OAuth error of a refusal.
 */
async function finishOrRefuse(
  ctx: ServiceContext,
  transaction: SsoTransaction,
  identify: () => Promise<FederatedIdentity>,
): Promise<string> {
  try {
    const code = await completeFederatedSignIn(ctx, transaction, await identify());
    return appRedirect(transaction, { code });
  } catch (error) {
    if (!(error instanceof SignInRefused)) throw error;
    ctx.logger.info('sso sign-in refused', {
      connectionId: transaction.connectionId,
      error: error.error,
      reason: error.description,
    });
    return appRedirect(transaction, { error: error.error, error_description: error.description });
  }
}

/**
 * The SAML Assertion Consumer Service: the IdP's POST of a SAMLResponse with the RelayState this API sent (the
 * transaction's key). The response is verified by consumeSamlResponse (signature by one of the connection's
 * certificates, audience, recipient, validity window, InResponseTo of an outstanding request of this connection,
 * replay cache; see docs/SAML.md) and must answer this very transaction's AuthnRequest. An unknown, used or other
 * connection's transaction is a 400 problem; a refused response goes back to the app as `access_denied` with the
 * refusal's code.
 *
 * Without a transaction (no RelayState, or the IdP's own): a sign-in started at the IdP, taken only when the
 * connection allows it (samlIdpInitiated); a 400 problem otherwise.
 *
 * Round trips: one Redis (the limit and the transaction), one database (the connection), one Redis (the request and
 * the replay cache), then completeFederatedSignIn's two database and one Redis.
 */
export async function consumeSamlSignIn({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { connectionId: string; samlResponse: string; relayState: string | undefined };
}): Promise<string> {
  const tenant = requireTenant(ctx);
  const relayState = input.relayState;
  const stored =
    relayState !== undefined && TRANSACTION_KEY.test(relayState)
      ? await withLoginLimit(ctx, (batch) =>
          batch.command<SsoTransaction | null>((pipeline) => pipeline.getdel(transactionKey(relayState))),
        )
      : null;
  if (stored === null) return samlIdpInitiated(ctx, input);
  const protocol = stored.protocol;
  if (stored.organizationId !== tenant.id || stored.connectionId !== input.connectionId || protocol.type !== 'saml') {
    throw unknownSignIn();
  }
  return finishOrRefuse(ctx, stored, async () => {
    const config = await enabledSamlConfig(ctx, input.connectionId);
    if (config === null) throw new SignInRefused('access_denied', 'This SSO connection was disabled or removed.');
    const identity = await samlIdentity(ctx, input, relayState, config);
    if (identity.inResponseTo !== protocol.requestId) {
      throw new SignInRefused('access_denied', 'The response answers another sign-in (saml_in_response_to_mismatch).');
    }
    return identity;
  });
}

/** The shape of a transaction key (the RelayState this API sends): 32 random bytes, base64url. */
const TRANSACTION_KEY = /^[A-Za-z0-9_-]{43}$/;

/** The settings of an enabled SAML connection of this organization (null otherwise): one database round trip. */
async function enabledSamlConfig(ctx: ServiceContext, connectionId: string): Promise<SamlConnectionConfig | null> {
  const connection = await enabledConnection(ctx, connectionId);
  return connection?.type === 'saml' ? SamlConnectionConfigSchema.parse(connection.config) : null;
}

/** The verified identity of a SAML response to this SAML connection (consumeSamlResponse). */
async function samlIdentity(
  ctx: ServiceContext,
  input: { connectionId: string; samlResponse: string },
  relayState: string | undefined,
  config: SamlConnectionConfig,
) {
  try {
    return await consumeSamlResponse({
      ctx: { redis: ctx.services.redis, bindings: ctx.bindings, logger: ctx.logger },
      input: {
        connectionId: input.connectionId,
        config,
        sp: samlServiceProvider(ctx.origin ?? '', input.connectionId),
        samlResponse: input.samlResponse,
        ...(relayState === undefined ? {} : { relayState }),
        isAllowedRedirect: () => true,
      },
    });
  } catch (error) {
    if (error instanceof SamlError) {
      throw new SignInRefused('access_denied', `The SAML response was refused (${error.code}).`);
    }
    throw error;
  }
}

/**
 * A sign-in started at the IdP (no transaction of this API): taken only when the connection allows it. The browser
 * lands on the IdP's RelayState when it is an allowed redirect of the organization, else on the connection's
 * `idpInitiatedRedirectUri`, with the one-time code and no `state` (the app started nothing). The response must
 * answer no request (an InResponseTo whose sign-in was lost is refused), and the replay cache holds as ever. The
 * code cannot be bound to the app's PKCE: apps that accept these codes take a sign-in they did not ask for, which is
 * why the organization must opt in.
 */
async function samlIdpInitiated(
  ctx: ServiceContext,
  input: { connectionId: string; samlResponse: string; relayState: string | undefined },
): Promise<string> {
  const tenant = requireTenant(ctx);
  await enforceLimits(ctx, [[AUTH_LIMITS.loginClient, clientBucket(ctx)]]);
  const config = await enabledSamlConfig(ctx, input.connectionId);
  if (config === null || !config.allowIdpInitiated || config.idpInitiatedRedirectUri === undefined) {
    throw new ApiError('bad_request', {
      detail:
        'Sign-in must start from the app (POST /api/v1/sso/authorize): this connection does not take sign-ins ' +
        'started at the identity provider, or the sign-in expired.',
    });
  }
  const landing =
    input.relayState !== undefined && redirectAllowed(ctx, input.relayState)
      ? input.relayState
      : config.idpInitiatedRedirectUri;
  const transaction: SsoTransaction = {
    organizationId: tenant.id,
    origin: ctx.origin ?? '',
    connectionId: input.connectionId,
    protocol: { type: 'saml', requestId: '' },
    redirectUri: landing,
    appState: null,
    codeChallenge: null,
  };
  return finishOrRefuse(ctx, transaction, async () => {
    const identity = await samlIdentity(ctx, input, input.relayState, config);
    if (identity.inResponseTo !== null) {
      throw new SignInRefused('access_denied', 'The response answers a sign-in that is unknown or expired.');
    }
    return identity;
  });
}

/** The OIDC callback's identity: the code exchanged and the ID token validated (exchangeCode), its claims read. */
async function oidcIdentity(
  ctx: ServiceContext,
  protocol: Extract<ProtocolState, { type: 'oidc' }>,
  callbackUrl: URL,
  state: string,
): Promise<FederatedIdentity> {
  const tenant = requireTenant(ctx);
  try {
    const as = await discover(protocol.config.issuer, ctx.bindings, protocol.expectedIssuer);
    const clientSecret =
      protocol.platformClient !== null
        ? platformClientSecret(protocol.platformClient, ctx.bindings)
        : protocol.clientSecretEncrypted === null
          ? null
          : await decryptSecret(
              ctx.bindings.DATA_ENCRYPTION_KEY,
              { organizationId: tenant.id, purpose: 'sso_client_secret' },
              protocol.clientSecretEncrypted,
            );
    const claims = await exchangeCode(
      as,
      callbackUrl,
      {
        config: protocol.config,
        clientSecret,
        redirectUri: protocol.callbackUrl,
        state,
        nonce: protocol.nonce,
        codeVerifier: protocol.codeVerifier,
      },
      ctx.bindings,
    );
    return identityOf(claims, protocol.config, protocol.emailVerifiedClaim);
  } catch (error) {
    if (error instanceof OidcError) {
      const denied = error.code.startsWith('authorization_');
      throw new SignInRefused(
        denied ? 'access_denied' : 'server_error',
        denied ? `The identity provider refused the sign-in (${error.code}).` : `Sign-in failed (${error.code}).`,
      );
    }
    throw error;
  }
}

/**
 * The protocol-neutral end of every federated sign-in (OIDC callback, SAML ACS): who signs in, their membership and
 * role, the session, and the one-time code for the app (see completeSsoSignIn for the rules). Two database round
 * trips (the read, then one transaction of writes) and one Redis (the code).
 */
async function completeFederatedSignIn(
  ctx: ServiceContext,
  transaction: SsoTransaction,
  identity: FederatedIdentity,
): Promise<string> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id, lookupEmail: identity.email ?? '' };
  const [linked, byEmail, connections] = await scoped(db, scope, [
    db
      .select({ ...memberColumns, identityId: userIdentities.id })
      .from(userIdentities)
      .innerJoin(users, eq(users.id, userIdentities.userId))
      .leftJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .leftJoin(roles, and(eq(roles.organizationId, tenant.id), eq(roles.id, memberships.roleId)))
      .where(
        and(
          eq(userIdentities.organizationId, tenant.id),
          eq(userIdentities.connectionId, transaction.connectionId),
          eq(userIdentities.subject, identity.subject),
        ),
      ),
    db
      .select(memberColumns)
      .from(users)
      .leftJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .leftJoin(roles, and(eq(roles.organizationId, tenant.id), eq(roles.id, memberships.roleId)))
      .where(identity.email === null ? sql`false` : eq(users.email, identity.email)),
    db
      .select({
        enabled: ssoConnections.enabled,
        jit: ssoConnections.jit,
        roleMapping: ssoConnections.roleMapping,
        roles: sql<{ id: string; key: string; permissions: string[]; isDefault: boolean }[]>`(
          select coalesce(json_agg(json_build_object('id', ${roles.id}, 'key', ${roles.key},
                 'permissions', ${roles.permissions}, 'isDefault', ${roles.id} = ${ssoConnections.defaultRoleId})), '[]')
            from ${roles}
           where ${roles.organizationId} = ${ssoConnections.organizationId}
             and (${roles.id} = ${ssoConnections.defaultRoleId}
                  or ${roles.key} in (select jsonb_array_elements_text(jsonb_path_query_array(${ssoConnections.roleMapping}, '$.*')))))`,
      })
      .from(ssoConnections)
      .where(and(eq(ssoConnections.organizationId, tenant.id), eq(ssoConnections.id, transaction.connectionId))),
  ]);
  const connection = connections[0];
  if (connection?.enabled !== true) {
    throw new SignInRefused('access_denied', 'This SSO connection was disabled or removed.');
  }
  const existing = linked[0] ?? byEmail[0];
  if (linked[0] === undefined && existing !== undefined && !identity.emailVerified) {
    throw new SignInRefused(
      'access_denied',
      'An account with this email exists, and the identity provider did not assert that the email is verified.',
    );
  }
  if (existing === undefined && (identity.email === null || !identity.emailVerified)) {
    throw new SignInRefused('access_denied', 'The identity provider sent no verified email address.');
  }
  if (existing?.membership === 'disabled') {
    throw new SignInRefused('access_denied', 'This membership is disabled.');
  }
  const isMember = existing?.membership != null;
  if (!isMember && !connection.jit) {
    throw new SignInRefused(
      'access_denied',
      'Not a member of this organization, and the connection provisions nobody.',
    );
  }

  const defaultRole = connection.roles.find((role) => role.isDefault);
  if (defaultRole === undefined) throw new SignInRefused('server_error', "The connection's default role is gone.");
  const mappedKey = Object.entries(connection.roleMapping).find(([group]) => identity.groups.includes(group))?.[1];
  const mapped = connection.roles.find((role) => role.key === mappedKey && role.key !== OWNER_ROLE);
  const keepRole =
    isMember &&
    existing.roleKey !== null &&
    (existing.roleKey === OWNER_ROLE || Object.keys(connection.roleMapping).length === 0);
  const role = keepRole ? null : (mapped ?? (defaultRole.key === OWNER_ROLE ? null : defaultRole));
  if (!isMember && role === null) throw new SignInRefused('server_error', 'No role a new member can be given.');
  const roleKey = role?.key ?? existing?.roleKey ?? '';
  const permissions =
    role?.permissions ?? connection.roles.find((candidate) => candidate.key === roleKey)?.permissions ?? null;

  const user: UserRow = existing ?? {
    id: crypto.randomUUID(),
    email: identity.email ?? '',
    name: identity.name ?? identity.email ?? '',
    emailVerifiedAt: new Date(),
    locale: 'en',
    timezone: 'UTC',
    preferences: {},
    createdAt: new Date(),
  };
  const verifyNow = existing !== undefined && existing.emailVerifiedAt === null && identity.emailVerified;
  if (verifyNow) user.emailVerifiedAt = new Date();
  const refreshToken = generateOpaqueToken('rt');
  const sessionId = crypto.randomUUID();
  const writes = [
    ...(existing === undefined
      ? [
          db.insert(users).values({
            id: user.id,
            email: user.email,
            name: user.name,
            emailVerifiedAt: sql`now()`,
            createdAt: user.createdAt,
          }),
        ]
      : []),
    ...(verifyNow
      ? [
          db
            .update(users)
            .set({ emailVerifiedAt: sql`now()`, updatedAt: sql`now()` })
            .where(eq(users.id, user.id)),
        ]
      : []),
    ...(isMember
      ? role === null && existing.membership === 'active'
        ? []
        : [
            db
              .update(memberships)
              .set({
                status: 'active',
                ...(role === null ? {} : { roleId: role.id }),
                updatedAt: sql`now()`,
              })
              .where(
                and(
                  eq(memberships.organizationId, tenant.id),
                  eq(memberships.userId, user.id),
                  inArray(memberships.status, ['active', 'invited']),
                ),
              ),
          ]
      : [
          db.insert(memberships).values({
            organizationId: tenant.id,
            userId: user.id,
            roleId: role?.id ?? '',
            status: 'active',
          }),
        ]),
    db
      .insert(userIdentities)
      .values({
        organizationId: tenant.id,
        connectionId: transaction.connectionId,
        userId: user.id,
        subject: identity.subject,
        email: identity.email,
        lastSignInAt: sql`now()`,
      })
      .onConflictDoUpdate({
        target: [userIdentities.connectionId, userIdentities.subject],
        set: { email: identity.email, lastSignInAt: sql`now()`, updatedAt: sql`now()` },
        setWhere: eq(userIdentities.userId, user.id),
      }),
    db.insert(refreshTokens).values({
      organizationId: tenant.id,
      userId: user.id,
      familyId: sessionId,
      tokenHash: await hashToken(refreshToken),
      expiresAt: sql`now() + make_interval(secs => ${REFRESH_TOKEN_TTL_SECONDS})`,
      sessionExpiresAt: sql`now() + make_interval(secs => ${SESSION_LIFETIME_SECONDS})`,
      ip: ctx.client.ip,
      userAgent: ctx.client.userAgent,
    }),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: { type: 'user', userId: user.id },
      action: 'auth.sso_login',
      target: { type: 'user', id: user.id },
      metadata: {
        connectionId: transaction.connectionId,
        sessionId,
        role: roleKey,
        accountCreated: existing === undefined,
        membershipCreated: !isMember,
        linked: linked[0] === undefined,
        ...(role !== null && isMember && existing.roleKey !== role.key ? { previousRole: existing.roleKey } : {}),
      },
    }),
  ] as const;
  await scoped(db, scope, writes as unknown as Parameters<typeof scoped>[2]).catch((error: unknown) => {
    // Two first sign-ins of one person at once: one wins the unique keys, the other signs in again.
    if (error instanceof NeonDbError && error.code === '23505') {
      throw new SignInRefused('temporarily_unavailable', 'A concurrent sign-in of this account won; try again.');
    }
    throw error;
  });

  const code = generateOpaqueToken('ssoc');
  const handoff: SsoHandoff = {
    organizationId: tenant.id,
    user: {
      ...user,
      emailVerifiedAt: user.emailVerifiedAt?.toISOString() ?? null,
      createdAt: user.createdAt.toISOString(),
    },
    sessionId,
    role: roleKey,
    permissions: permissions ?? [],
    refreshTokenEncrypted: await encryptSecret(
      ctx.bindings.DATA_ENCRYPTION_KEY,
      { organizationId: tenant.id, purpose: 'sso_handoff' },
      refreshToken,
    ),
    codeChallenge: transaction.codeChallenge,
  };
  await ctx.services.redis.set(await handoffKey(code), JSON.stringify(handoff), { ex: SSO_HANDOFF_TTL_SECONDS });
  return code;
}

function handoffRefused(): ApiError {
  return new ApiError('bad_request', {
    detail: 'The code is invalid, expired (60 seconds), already used, or its code verifier does not match.',
  });
}

/**
 * Step 3: the one-time code for the session (access and refresh token). Single use (GETDEL, also when the verifier
 * is wrong); the app's PKCE verifier is required when its authorization request carried a challenge and refused
 * when it did not. One Redis round trip (the limit and the code), no database.
 */
export async function exchangeSsoCode({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { code: string; codeVerifier?: string | undefined };
}): Promise<Session> {
  const tenant = requireTenant(ctx);
  const key = await handoffKey(input.code);
  const handoff = await withLoginLimit(ctx, (batch) =>
    batch.command<SsoHandoff | null>((pipeline) => pipeline.getdel(key)),
  );
  if (handoff === null || handoff.organizationId !== tenant.id) throw handoffRefused();
  if (handoff.codeChallenge === null) {
    if (input.codeVerifier !== undefined) throw handoffRefused();
  } else if (
    input.codeVerifier === undefined ||
    (await oauth.calculatePKCECodeChallenge(input.codeVerifier)) !== handoff.codeChallenge
  ) {
    throw handoffRefused();
  }
  const refreshToken = await decryptSecret(
    ctx.bindings.DATA_ENCRYPTION_KEY,
    { organizationId: tenant.id, purpose: 'sso_handoff' },
    handoff.refreshTokenEncrypted,
  );
  const user: UserRow = {
    ...handoff.user,
    emailVerifiedAt: handoff.user.emailVerifiedAt === null ? null : new Date(handoff.user.emailVerifiedAt),
    createdAt: new Date(handoff.user.createdAt),
  };
  return session(
    ctx,
    user,
    {
      tenant: tenant.id,
      sessionId: handoff.sessionId,
      role: handoff.role,
      permissions: permissionsOf(handoff.permissions),
      amr: ['fed'],
    },
    refreshToken,
  );
}
