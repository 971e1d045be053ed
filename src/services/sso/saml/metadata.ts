import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import type { Element } from '@xmldom/xmldom';
import type { SamlConnectionConfig, SamlServiceProvider } from './config.ts';
import { SamlError } from './errors.ts';
import { children, parseXml, SAML_METADATA_NS, textOf, XMLDSIG_NS } from './xml.ts';

const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
/** IdP metadata larger than this is refused (an aggregate of a whole federation is not what we want). */
export const IDP_METADATA_MAX_BYTES = 512 * 1024;

/**
 * The SP metadata (EntityDescriptor) an IdP administrator uploads: our entityID, the ACS (HTTP-POST), the NameID
 * format we ask for, and that we want signed assertions. Nothing of ours is signed or encrypted, so no key appears.
 */
export function samlServiceProviderMetadata(
  sp: SamlServiceProvider,
  config: Pick<SamlConnectionConfig, 'nameIdFormat'>,
) {
  return generateServiceProviderMetadata({
    issuer: sp.entityId,
    callbackUrl: sp.acsUrl,
    identifierFormat: config.nameIdFormat ?? null,
    wantAssertionsSigned: true,
    decryptionCert: null,
    publicCerts: null,
  });
}

/** What IdP metadata tells a connection: merge it into a SamlConnectionConfig. */
export interface SamlIdpMetadata {
  idpEntityId: string;
  ssoUrl: string;
  signingCertificates: string[];
}

function descriptorOf(root: Element, entityId: string | undefined): Element {
  const entities =
    root.localName === 'EntityDescriptor'
      ? [root]
      : root.localName === 'EntitiesDescriptor'
        ? Array.from(root.getElementsByTagNameNS(SAML_METADATA_NS, 'EntityDescriptor'))
        : [];
  const idps = entities.filter(
    (entity) =>
      children(entity, SAML_METADATA_NS, 'IDPSSODescriptor').length > 0 &&
      (entityId === undefined || entity.getAttribute('entityID') === entityId),
  );
  if (idps.length !== 1) {
    throw new SamlError(
      'saml_metadata_invalid',
      idps.length === 0 ? 'The metadata describes no such IdP.' : 'The metadata describes several IdPs: name one.',
    );
  }
  return idps[0] as Element;
}

/**
 * Reads an IdP's entityID, HTTP-Redirect SSO URL and signing certificates from its metadata XML (an
 * EntityDescriptor, or an EntitiesDescriptor with `entityId` naming the one). DTDs and comments are refused.
 */
export function parseIdpMetadata(xml: string, entityId?: string): SamlIdpMetadata {
  if (xml.length > IDP_METADATA_MAX_BYTES) throw new SamlError('saml_metadata_invalid', 'The metadata is too large.');
  const root = parseXml(xml, 'saml_metadata_invalid').documentElement;
  if (root === null || root.namespaceURI !== SAML_METADATA_NS) {
    throw new SamlError('saml_metadata_invalid', 'Not SAML 2.0 metadata.');
  }
  const entity = descriptorOf(root, entityId);
  const idpEntityId = entity.getAttribute('entityID') ?? '';
  const descriptor = children(entity, SAML_METADATA_NS, 'IDPSSODescriptor')[0] as Element;
  const ssoUrl = children(descriptor, SAML_METADATA_NS, 'SingleSignOnService')
    .find((service) => service.getAttribute('Binding') === HTTP_REDIRECT)
    ?.getAttribute('Location');
  const signingCertificates = children(descriptor, SAML_METADATA_NS, 'KeyDescriptor')
    .filter((key) => (key.getAttribute('use') ?? 'signing') !== 'encryption')
    .flatMap((key) => Array.from(key.getElementsByTagNameNS(XMLDSIG_NS, 'X509Certificate')))
    .map((certificate) => (textOf(certificate) ?? '').replace(/\s+/g, ''))
    .filter((certificate) => certificate !== '');
  if (idpEntityId === '' || ssoUrl === undefined || ssoUrl === null || signingCertificates.length === 0) {
    throw new SamlError(
      'saml_metadata_invalid',
      'The metadata lacks the entityID, an HTTP-Redirect SingleSignOnService or a signing certificate.',
    );
  }
  return { idpEntityId, ssoUrl, signingCertificates: [...new Set(signingCertificates)] };
}
