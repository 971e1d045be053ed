import { createRequire } from 'node:module';
import { IDP_CERT, IDP_KEY, TEST_IDP_ENTITY_ID, TEST_IDP_SSO_URL } from '../support/saml-keys.ts';

/*
 * The IdP side of a SAML library (samlify's IdentityProvider), in Node, for the SAML sign-in tests: it builds and
 * signs a login Response to an AuthnRequest of ours, as an IdP product would, with the test IdP's key. The tests'
 * own response builder (tests/support/saml-idp.ts) crafts the attacks; this one is the independent peer.
 */

/** The part of samlify's API used here. */
interface Samlify {
  setSchemaValidator(validator: { validate: (xml: string) => Promise<string> }): void;
  IdentityProvider(settings: Record<string, unknown>): {
    createLoginResponse(
      sp: unknown,
      requestInfo: { extract: { request: { id: string } } },
      binding: 'post',
      user: { email: string },
    ): Promise<{ context: string }>;
  };
  ServiceProvider(settings: Record<string, unknown>): unknown;
}

// Loaded with require, untyped: samlify's declarations pull the DOM lib (through xpath's) into the Node program,
// where it changes the types of fetch's Headers for every other file.
const samlify = createRequire(import.meta.url)('samlify') as Samlify;

// samlify validates XML it parses against the SAML schemas with a pluggable validator; this IdP only writes responses.
samlify.setSchemaValidator({ validate: () => Promise.resolve('not parsing: nothing to validate') });

const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

const idp = samlify.IdentityProvider({
  entityID: TEST_IDP_ENTITY_ID,
  privateKey: IDP_KEY,
  signingCert: IDP_CERT,
  isAssertionSigned: true,
  nameIDFormat: [EMAIL_FORMAT],
  singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: TEST_IDP_SSO_URL }],
  singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: TEST_IDP_SSO_URL }],
});

export interface LoginResponseRequest {
  /** Our SP: its entityID (the audience) and ACS URL (the recipient and destination). */
  spEntityId: string;
  acsUrl: string;
  /** The AuthnRequest answered. */
  requestId: string;
  email: string;
}

/** A signed SAMLResponse (base64, for the HTTP-POST binding) to `requestId`, for `email` as an emailAddress NameID. */
export async function samlifyLoginResponse(request: LoginResponseRequest): Promise<string> {
  const sp = samlify.ServiceProvider({
    entityID: request.spEntityId,
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: request.acsUrl }],
    wantAssertionsSigned: true,
  });
  const response = await idp.createLoginResponse(sp, { extract: { request: { id: request.requestId } } }, 'post', {
    email: request.email,
  });
  return response.context;
}
