/**
 * SAML 2.0 service provider (issue #15 part 2), protocol-neutral: routes call these and hand the SamlIdentity to the
 * shared federated sign-in. See docs/SAML.md. The XML modules (authn-request, metadata, response, provider, xml) run
 * in the SAML Worker (src/workers/saml.ts); the API Worker imports consume.ts, keys.ts, config.ts and errors.ts only.
 */
export { samlAuthnRequest, type SamlAuthnRequestInput, type SamlSignInStart } from './authn-request.ts';
export {
  samlServiceProvider,
  SamlConnectionConfigSchema,
  SAML_RESPONSE_MAX_CHARS,
  type SamlConnectionConfig,
  type SamlConnectionConfigInput,
  type SamlServiceProvider,
} from './config.ts';
export {
  consumeSamlResponse,
  samlCall,
  startSamlSignIn,
  type ConsumeSamlResponseInput,
  type SamlContext,
  type StartSamlSignInInput,
} from './consume.ts';
export { SamlError, samlRefusal, type SamlErrorCode, type SamlRefusal } from './errors.ts';
export { SAML_REQUEST_TTL_SECONDS, samlAssertionKey, samlRequestKey } from './keys.ts';
export { parseIdpMetadata, samlServiceProviderMetadata, type SamlIdpMetadata } from './metadata.ts';
export {
  verifySamlResponse,
  type SamlIdentity,
  type VerifiedSamlResponse,
  type VerifySamlResponseInput,
} from './response.ts';
