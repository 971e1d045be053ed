import type { SamlConnectionConfig, SamlServiceProvider } from './config.ts';
import { samlFor } from './provider.ts';

export interface SamlAuthnRequestInput {
  config: SamlConnectionConfig;
  sp: SamlServiceProvider;
  /** The RelayState to send along (already checked by the caller). */
  relayState?: string | undefined;
}

export interface SamlSignInStart {
  /** The IdP's SSO URL with SAMLRequest (deflated, HTTP-Redirect binding) and RelayState. Answer 302 to it. */
  redirectUrl: string;
  requestId: string;
}

/**
 * Builds the AuthnRequest (HTTP-Redirect binding) with a fresh ID (the SAML Worker's `authnRequest`). The caller
 * must remember the ID under `samlRequestKey` for SAML_REQUEST_TTL_SECONDS (the InResponseTo check consumes it), as
 * startSamlSignIn and the SSO sign-in do.
 */
export async function samlAuthnRequest(input: SamlAuthnRequestInput): Promise<SamlSignInStart> {
  // SAML IDs are xs:ID (NCName): they must not start with a digit.
  const requestId = `_${crypto.randomUUID().replaceAll('-', '')}`;
  const saml = samlFor(input.sp, input.config, () => requestId);
  const redirectUrl = await saml.getAuthorizeUrlAsync(input.relayState ?? '', undefined, {});
  return { redirectUrl, requestId };
}
