import type { Redis } from '@upstash/redis/cloudflare';
import type { SamlConnectionConfig, SamlServiceProvider } from './config.ts';
import { SamlError } from './errors.ts';
import { samlFor } from './provider.ts';

/** How long an AuthnRequest stays answerable: the user's time at the IdP login page. */
export const SAML_REQUEST_TTL_SECONDS = 600;

/** Redis key of an outstanding AuthnRequest of a connection (deleted by the response that answers it). */
export const samlRequestKey = (connectionId: string, requestId: string): string =>
  `saml:request:${connectionId}:${requestId}`;

export interface StartSamlSignInInput {
  connectionId: string;
  config: SamlConnectionConfig;
  sp: SamlServiceProvider;
  /** Where to send the user after sign-in; must pass `isAllowedRedirect`. */
  relayState?: string;
  isAllowedRedirect: (target: string) => boolean;
}

export interface SamlSignInStart {
  /** The IdP's SSO URL with SAMLRequest (deflated, HTTP-Redirect binding) and RelayState. Answer 302 to it. */
  redirectUrl: string;
  requestId: string;
}

/**
 * Builds the AuthnRequest (HTTP-Redirect binding) with a fresh ID. The caller must remember the ID under
 * `samlRequestKey` for SAML_REQUEST_TTL_SECONDS (the InResponseTo check consumes it), as startSamlSignIn does.
 */
export async function samlAuthnRequest(
  input: Pick<StartSamlSignInInput, 'config' | 'sp' | 'relayState'>,
): Promise<SamlSignInStart> {
  // SAML IDs are xs:ID (NCName): they must not start with a digit.
  const requestId = `_${crypto.randomUUID().replaceAll('-', '')}`;
  const saml = samlFor(input.sp, input.config, () => requestId);
  const redirectUrl = await saml.getAuthorizeUrlAsync(input.relayState ?? '', undefined, {});
  return { redirectUrl, requestId };
}

/**
 * Builds the AuthnRequest (HTTP-Redirect binding) and remembers its ID for the InResponseTo check. Costs one Redis
 * round trip (a SET with TTL).
 */
export async function startSamlSignIn({ ctx, input }: { ctx: { redis: Redis }; input: StartSamlSignInInput }) {
  if (input.relayState !== undefined && !input.isAllowedRedirect(input.relayState)) {
    throw new SamlError('saml_relay_state_refused', 'The return address is not allowed.');
  }
  const start = await samlAuthnRequest(input);
  await ctx.redis.set(samlRequestKey(input.connectionId, start.requestId), '1', { ex: SAML_REQUEST_TTL_SECONDS });
  return start;
}
