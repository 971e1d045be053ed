import { SignedXml } from 'xml-crypto';
import { IDP_CERT, IDP_KEY, TEST_IDP_ENTITY_ID, TEST_IDP_SSO_URL } from './saml-keys.ts';

export { TEST_IDP_ENTITY_ID, TEST_IDP_SSO_URL };

/**
 * The IdP side of the SAML tests: builds real SAML 2.0 Responses and signs them with xml-crypto (the XML-DSig library
 * node-saml verifies with), RSA-SHA256, exclusive canonicalization, enveloped signatures, as Okta, Entra ID and
 * Shibboleth send them. Everything about a response can be overridden, so a test can craft the attack it needs.
 */

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';

export interface AssertionOptions {
  id?: string;
  issuer?: string;
  nameId?: string;
  nameIdFormat?: string;
  audience?: string;
  recipient: string;
  inResponseTo?: string;
  notBefore?: Date;
  notOnOrAfter?: Date;
  issueInstant?: Date;
  sessionIndex?: string;
  attributes?: Record<string, string[]>;
}

export interface ResponseOptions {
  id?: string;
  destination?: string;
  inResponseTo?: string;
  issuer?: string;
}

const escape = (value: string): string =>
  value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const randomId = (): string => `_${crypto.randomUUID().replaceAll('-', '')}`;

/** A `saml:Assertion` element (unsigned) for `options`. */
export function assertionXml(options: AssertionOptions): string {
  const now = Date.now();
  const issueInstant = (options.issueInstant ?? new Date(now)).toISOString();
  const notBefore = (options.notBefore ?? new Date(now - 30_000)).toISOString();
  const notOnOrAfter = (options.notOnOrAfter ?? new Date(now + 5 * 60_000)).toISOString();
  const inResponseTo = options.inResponseTo === undefined ? '' : ` InResponseTo="${escape(options.inResponseTo)}"`;
  const attributes = Object.entries(options.attributes ?? {})
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${escape(name)}">${values
          .map((value) => `<saml:AttributeValue>${escape(value)}</saml:AttributeValue>`)
          .join('')}</saml:Attribute>`,
    )
    .join('');
  return (
    `<saml:Assertion xmlns:saml="${ASSERTION}" ID="${options.id ?? randomId()}" Version="2.0" IssueInstant="${issueInstant}">` +
    `<saml:Issuer>${escape(options.issuer ?? TEST_IDP_ENTITY_ID)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${
      options.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'
    }">${escape(options.nameId ?? 'ada@example.com')}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${escape(options.recipient)}"${inResponseTo}/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${escape(options.audience ?? '')}</saml:Audience></saml:AudienceRestriction>` +
    `</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${issueInstant}" SessionIndex="${escape(options.sessionIndex ?? randomId())}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>` +
    `</saml:AuthnStatement>` +
    (attributes === '' ? '' : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`) +
    `</saml:Assertion>`
  );
}

/** A `samlp:Response` around `inner` (assertions or anything else a test wants in it), unsigned. */
export function responseXml(inner: string, options: ResponseOptions = {}): string {
  const destination = options.destination === undefined ? '' : ` Destination="${escape(options.destination)}"`;
  const inResponseTo = options.inResponseTo === undefined ? '' : ` InResponseTo="${escape(options.inResponseTo)}"`;
  return (
    `<samlp:Response xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="${options.id ?? randomId()}" Version="2.0" ` +
    `IssueInstant="${new Date().toISOString()}"${destination}${inResponseTo}>` +
    `<saml:Issuer>${escape(options.issuer ?? TEST_IDP_ENTITY_ID)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    inner +
    `</samlp:Response>`
  );
}

/**
 * Signs the element `localName` (Response or Assertion; the first one in document order) of `xml` with an enveloped
 * signature placed after its Issuer, as the schema wants it.
 */
export function sign(xml: string, localName: 'Response' | 'Assertion', key = IDP_KEY, cert = IDP_CERT): string {
  const signer = new SignedXml({
    privateKey: key,
    publicCert: cert,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  signer.addReference({
    xpath: `//*[local-name(.)='${localName}']`,
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  signer.computeSignature(xml, {
    location: { reference: `//*[local-name(.)='${localName}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return signer.getSignedXml();
}

/** Base64 of `xml`, as the HTTP-POST binding carries it in the SAMLResponse form field. */
export function postBinding(xml: string): string {
  const bytes = new TextEncoder().encode(xml);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The test IdP's metadata (an EntityDescriptor) with `certificate` (bare base64) as its signing certificate. */
export function idpMetadataXml(certificate: string): string {
  return (
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${TEST_IDP_ENTITY_ID}">` +
    `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>` +
    `<ds:X509Certificate>${certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${TEST_IDP_SSO_URL}/post"/>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${TEST_IDP_SSO_URL}"/>` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`
  );
}
