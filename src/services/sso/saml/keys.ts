/**
 * The Redis side of SAML sign-in (the API Worker's): single-use AuthnRequest IDs and the assertion replay cache. The
 * XML side (node-saml, xml-crypto, xmldom) runs in the SAML Worker (src/workers/saml.ts), which touches no store.
 */

/** How long an AuthnRequest stays answerable: the user's time at the IdP login page. */
export const SAML_REQUEST_TTL_SECONDS = 600;

/** Redis key of an outstanding AuthnRequest of a connection (deleted by the response that answers it). */
export const samlRequestKey = (connectionId: string, requestId: string): string =>
  `saml:request:${connectionId}:${requestId}`;

/** Redis key marking an assertion ID of a connection as used. */
export const samlAssertionKey = (connectionId: string, assertionId: string): string =>
  `saml:assertion:${connectionId}:${assertionId}`;
