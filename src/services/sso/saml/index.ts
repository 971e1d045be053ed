/**
 * SAML 2.0 service provider (issue #15 part 2), protocol-neutral: routes call these and hand the SamlIdentity to the
 * shared federated sign-in. See docs/SAML.md.
 */
export {
  samlAuthnRequest,
  samlRequestKey,
  startSamlSignIn,
  SAML_REQUEST_TTL_SECONDS,
  type SamlSignInStart,
  type StartSamlSignInInput,
} from './authn-request.ts';
export {
  samlServiceProvider,
  SamlConnectionConfigSchema,
  type SamlConnectionConfig,
  type SamlConnectionConfigInput,
  type SamlServiceProvider,
} from './config.ts';
export { SamlError, type SamlErrorCode } from './errors.ts';
export { fetchIdpMetadata, parseIdpMetadata, samlServiceProviderMetadata, type SamlIdpMetadata } from './metadata.ts';
export {
  consumeSamlResponse,
  SAML_RESPONSE_MAX_CHARS,
  type ConsumeSamlResponseInput,
  type SamlIdentity,
} from './response.ts';
