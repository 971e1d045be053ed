import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import type { SamlConnectionConfig, SamlServiceProvider } from './config.ts';

/** Clock skew tolerated on NotBefore / NotOnOrAfter, both ways. */
export const SAML_CLOCK_SKEW_MS = 60_000;

/**
 * node-saml's SAML object for one connection. InResponseTo and replay are ours (Redis, one round trip, single use),
 * so node-saml's own in-memory cache is switched off; it verifies the XML signatures (xml-crypto) against the
 * configured certificates only, accepts a signed Response or a signed Assertion (never neither), works on the
 * verified XML only, refuses several assertions, checks Conditions (NotBefore/NotOnOrAfter with skew) and Audience.
 */
export function samlFor(sp: SamlServiceProvider, config: SamlConnectionConfig, generateUniqueId?: () => string): SAML {
  return new SAML({
    issuer: sp.entityId,
    audience: sp.entityId,
    callbackUrl: sp.acsUrl,
    entryPoint: config.ssoUrl,
    idpCert: config.signingCertificates,
    idpIssuer: config.idpEntityId,
    wantAuthnResponseSigned: false,
    wantAssertionsSigned: false,
    acceptedClockSkewMs: SAML_CLOCK_SKEW_MS,
    validateInResponseTo: ValidateInResponseTo.never,
    identifierFormat: config.nameIdFormat ?? null,
    // Requesting "PasswordProtectedTransport, exact" (node-saml's default) breaks sign-in with MFA or passkeys at
    // Entra ID and ADFS; the IdP's own policy decides how its users authenticate.
    disableRequestedAuthnContext: true,
    signatureAlgorithm: 'sha256',
    ...(generateUniqueId === undefined ? {} : { generateUniqueId }),
  });
}
