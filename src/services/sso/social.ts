import type { OidcConnectionConfig, SocialConnectionConfig, SocialProvider } from '../../db/schema/sso.ts';
import type { Bindings } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { originOnHost } from '../../lib/origin.ts';

/*
 * Social login: Google, Microsoft (Entra ID, multi-tenant) and LinkedIn, each an OpenID Connect provider whose
 * endpoints are built in. A social connection is an OIDC connection of the organization whose issuer, scopes and
 * claims come from here; the sign-in is the OIDC one (sign-in.ts, oidc.ts: code flow, PKCE, state, nonce, the ID
 * token's issuer, audience, expiry and signature). What differs by provider:
 *
 * - Whose OAuth client: the organization's own (client id and secret, the redirect URI its own host's callback), or
 *   the platform's (SOCIAL_LOGIN_CREDENTIALS, one redirect URI for every organization: the platform host's callback,
 *   which hands the browser on to the organization's host, see bounceSsoCallback).
 * - Which claim vouches for the email. Linking and provisioning need a verified address (sign-in.ts), and an
 *   unverified one must never count: Google and LinkedIn send `email_verified`; Entra ID does not, and its `email`
 *   is whatever a tenant administrator typed (the "nOAuth" takeover), so a Microsoft address counts as verified only
 *   with the optional claim `xms_edov` (the email's domain is verified by the tenant), which the app registration
 *   must request.
 * - Microsoft's issuer: `https://login.microsoftonline.com/{tenant}/v2.0`, where the connection's tenant is
 *   `organizations` (any work or school account: the default), `common` (also personal accounts), `consumers`
 *   (personal accounts only) or one tenant's id. The multi-tenant ones publish the `{tenantid}` issuer template
 *   (oidc.ts checks each ID token against its own `tid`).
 *
 * Tests and `npm run dev` point the providers at a local OpenID Provider with SOCIAL_ISSUERS, which only the local
 * environment honours.
 */

/**
 * The path the IdP sends the browser back to: registered at the IdP as `<organization origin>/api/v1/sso/callback`,
 * or for the platform's social clients as `<platform origin>/api/v1/sso/callback`.
 */
export const SSO_CALLBACK_PATH = '/api/v1/sso/callback';

export const SOCIAL_PROVIDERS = ['google', 'microsoft', 'linkedin'] as const satisfies readonly SocialProvider[];

/** Entra ID's tenant of personal Microsoft accounts: the issuer its `consumers` endpoint publishes. */
const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';
export const MICROSOFT_TENANT =
  /^(?:organizations|common|consumers|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

interface Preset {
  /** Microsoft's holds `{tenant}`. */
  issuer: string;
  /** The claim that vouches for the email: true (or "true") means verified. */
  emailVerifiedClaim: string;
  label: string;
}

const PRESETS: Record<SocialProvider, Preset> = {
  google: { issuer: 'https://accounts.google.com', emailVerifiedClaim: 'email_verified', label: 'Google' },
  microsoft: {
    issuer: 'https://login.microsoftonline.com/{tenant}/v2.0',
    emailVerifiedClaim: 'xms_edov',
    label: 'Microsoft',
  },
  linkedin: { issuer: 'https://www.linkedin.com/oauth', emailVerifiedClaim: 'email_verified', label: 'LinkedIn' },
};

export function isSocialProvider(type: string): type is SocialProvider {
  return (SOCIAL_PROVIDERS as readonly string[]).includes(type);
}

/** How a social connection signs in: the OIDC settings, and what the OIDC path does differently for it. */
export interface SocialSignIn {
  config: OidcConnectionConfig;
  /** The discovery document's `issuer` (oidc.ts `discover`). */
  expectedIssuer: string;
  emailVerifiedClaim: string;
  /** The platform's client (its secret from SOCIAL_LOGIN_CREDENTIALS) rather than the organization's. */
  platformClient: boolean;
}

type SocialBindings = Pick<Bindings, 'ENVIRONMENT' | 'SOCIAL_ISSUERS' | 'SOCIAL_LOGIN_CREDENTIALS'>;

function issuerTemplate(provider: SocialProvider, bindings: SocialBindings): string {
  if (bindings.SOCIAL_ISSUERS !== undefined && bindings.ENVIRONMENT !== 'local') {
    throw new ApiError('misconfigured', { detail: 'SOCIAL_ISSUERS may be set in the local environment only.' });
  }
  return bindings.SOCIAL_ISSUERS?.[provider] ?? PRESETS[provider].issuer;
}

function platformCredentials(provider: SocialProvider, bindings: SocialBindings) {
  const credentials = bindings.SOCIAL_LOGIN_CREDENTIALS?.[provider];
  if (credentials === undefined) {
    throw new ApiError('service_unavailable', {
      detail: `${PRESETS[provider].label} sign-in needs this organization's own client: the platform offers none.`,
    });
  }
  return credentials;
}

/** The OIDC settings of a social connection (503 when it relies on a platform client that is not configured). */
export function socialSignIn(
  provider: SocialProvider,
  stored: SocialConnectionConfig,
  bindings: SocialBindings,
): SocialSignIn {
  const template = issuerTemplate(provider, bindings);
  const tenant = provider === 'microsoft' ? (stored.tenant ?? 'organizations') : '';
  const issuer = template.replace('{tenant}', tenant);
  const expectedIssuer =
    provider !== 'microsoft' || !['organizations', 'common', 'consumers'].includes(tenant)
      ? issuer
      : template.replace('{tenant}', tenant === 'consumers' ? CONSUMERS_TENANT_ID : '{tenantid}');
  const platformClient = stored.clientId === null;
  return {
    config: {
      issuer,
      clientId: stored.clientId ?? platformCredentials(provider, bindings).clientId,
      scopes: ['openid', 'email', 'profile'],
      claims: { email: 'email', name: 'name', groups: 'groups' },
    },
    expectedIssuer,
    emailVerifiedClaim: PRESETS[provider].emailVerifiedClaim,
    platformClient,
  };
}

/** The platform client's secret, read at the callback (never stored with a sign-in). */
export function platformClientSecret(provider: SocialProvider, bindings: SocialBindings): string {
  return platformCredentials(provider, bindings).clientSecret;
}

/**
 * The platform host's origin seen from an organization's request (same scheme and port): the platform clients'
 * redirect URI is `<it>/api/v1/sso/callback`.
 */
export function platformOrigin(origin: string | null, bindings: Pick<Bindings, 'ENVIRONMENT' | 'ROOT_DOMAIN'>) {
  return originOnHost(origin, bindings.ROOT_DOMAIN, bindings);
}

/** A claim's value as a verification: true, or the string "true" some providers send. */
export function claimIsTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

export function socialLabel(provider: SocialProvider): string {
  return PRESETS[provider].label;
}
