import type { Element } from '@xmldom/xmldom';
import { strictUtf8 } from '../../../lib/text.ts';
import { SAML_RESPONSE_MAX_CHARS, type SamlConnectionConfig, type SamlServiceProvider } from './config.ts';
import { SamlError, type SamlErrorCode } from './errors.ts';
import { SAML_CLOCK_SKEW_MS, samlFor } from './provider.ts';
import { child, children, parseXml, SAML_ASSERTION_NS, textOf, XMLDSIG_NS } from './xml.ts';

/** Replay entries live until the assertion expires (plus skew), at most this long. */
const REPLAY_MAX_SECONDS = 24 * 60 * 60;

const EMAIL_ADDRESS_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface VerifySamlResponseInput {
  config: SamlConnectionConfig;
  sp: SamlServiceProvider;
  /** The SAMLResponse form field of the POST to the ACS (base64). */
  samlResponse: string;
  /** The RelayState form field, if any (already allowed by the caller): returned as `redirectTo`. */
  relayState?: string | undefined;
  /** The clock (tests); defaults to now. */
  now?: Date | undefined;
}

/** A verified SAML response: the identity, and what the replay and InResponseTo checks need. */
export interface VerifiedSamlResponse {
  identity: SamlIdentity;
  /** The assertion's ID: used once per connection (the replay cache). */
  assertionId: string;
  /** How long the replay cache must remember it: until the assertion expires (plus skew), at most a day. */
  replaySeconds: number;
}

/** A verified SAML sign-in, protocol-neutral: what completeFederatedSignIn takes. */
export interface SamlIdentity {
  /** The NameID: the user's stable identifier at the IdP. */
  subject: string;
  nameIdFormat: string | null;
  email: string | null;
  /** True only when the connection says its IdP vouches for emails, and an email was asserted. */
  emailVerified: boolean;
  name: string | null;
  groups: string[];
  sessionIndex: string | null;
  /** The ID of the AuthnRequest answered, null for an IdP-initiated sign-in. */
  inResponseTo: string | null;
  /** The allowed RelayState, when one came. */
  redirectTo: string | null;
}

/** node-saml's refusals (5.1.0 messages), mapped to our codes. Anything else is a malformed response. */
const NODE_SAML_REFUSALS: [RegExp, SamlErrorCode][] = [
  [/^Invalid signature: multiple assertions/, 'saml_multiple_assertions'],
  [/^Invalid (document )?signature|^Cannot obtain assertion from signed data/, 'saml_signature_invalid'],
  [/^Missing SAML assertion/, 'saml_unsigned'],
  [/^SAML assertion not yet valid/, 'saml_not_yet_valid'],
  [/^SAML assertion expired/, 'saml_expired'],
  [/^SAML assertion audience mismatch|^SAML assertion has no AudienceRestriction/, 'saml_audience_mismatch'],
  [/^SAML provider returned/, 'saml_status_error'],
];

function refusalOf(error: unknown): SamlError {
  const message = error instanceof Error ? error.message : String(error);
  for (const [pattern, code] of NODE_SAML_REFUSALS) {
    if (pattern.test(message)) return new SamlError(code, message.slice(0, 200), { cause: error });
  }
  return new SamlError('saml_response_malformed', 'The SAML response could not be processed.', { cause: error });
}

function decodeBase64(value: string): string {
  const compact = value.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new SamlError('saml_response_malformed', 'SAMLResponse is not base64.');
  }
  try {
    const binary = atob(compact);
    const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0));
    return strictUtf8(bytes);
  } catch (error) {
    throw new SamlError('saml_response_malformed', 'SAMLResponse is not base64 of UTF-8.', { cause: error });
  }
}

function timestamp(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SamlError('saml_response_malformed', 'A timestamp is not a date.');
  return ms;
}

/** The values of attribute `name` in the assertion's AttributeStatements. */
function attributeValues(assertion: Element, name: string): string[] {
  const values: string[] = [];
  for (const statement of children(assertion, SAML_ASSERTION_NS, 'AttributeStatement')) {
    for (const attribute of children(statement, SAML_ASSERTION_NS, 'Attribute')) {
      if (attribute.getAttribute('Name') !== name) continue;
      for (const value of children(attribute, SAML_ASSERTION_NS, 'AttributeValue')) {
        const text = textOf(value);
        if (text !== undefined) values.push(text);
      }
    }
  }
  return values;
}

/**
 * Validates a SAML Response posted to the ACS (HTTP-POST binding) and returns the identity it asserts, without any
 * store (the SAML Worker's `verifyResponse`; consumeSamlResponse adds the single-use checks in Redis).
 *
 * Verified: size, no DTD/entities/comments, an XML signature by one of the connection's certificates over the
 * Response or the Assertion (unsigned refused; node-saml/xml-crypto, working on the signed bytes only, one
 * assertion), Issuer = the IdP's entityID, Audience = our entityID, a bearer SubjectConfirmation whose Recipient is
 * our ACS URL and which has not expired, the Response's Destination (when present) = our ACS URL,
 * NotBefore/NotOnOrAfter with 60 s skew, InResponseTo the same in the Response and the signed assertion, and, without
 * one, that the connection allows IdP-initiated sign-in.
 */
export async function verifySamlResponse(input: VerifySamlResponseInput): Promise<VerifiedSamlResponse> {
  const { config, sp } = input;
  if (input.samlResponse.length > SAML_RESPONSE_MAX_CHARS) {
    throw new SamlError('saml_response_too_large', 'SAMLResponse is too large.');
  }
  const xml = decodeBase64(input.samlResponse);
  const document = parseXml(xml, 'saml_response_malformed');
  const root = document.documentElement;
  if (root?.localName !== 'Response' || root.namespaceURI !== 'urn:oasis:names:tc:SAML:2.0:protocol') {
    throw new SamlError('saml_response_malformed', 'Not a SAML 2.0 Response.');
  }
  const destination = root.getAttribute('Destination');
  if (destination !== null && destination !== '' && destination !== sp.acsUrl) {
    throw new SamlError('saml_destination_mismatch', 'The response is addressed to another endpoint.');
  }

  if (document.getElementsByTagNameNS(XMLDSIG_NS, 'Signature').length === 0) {
    throw new SamlError('saml_unsigned', 'Neither the response nor the assertion is signed.');
  }

  let assertionXml: string;
  try {
    const { profile } = await samlFor(sp, config).validatePostResponseAsync({ SAMLResponse: input.samlResponse });
    if (profile === null) throw new Error('Missing SAML assertion');
    // The canonical XML of the signed assertion, as verified: everything below reads only this.
    assertionXml = profile.getAssertionXml?.() ?? '';
  } catch (error) {
    throw refusalOf(error);
  }

  const assertion = parseXml(assertionXml, 'saml_response_malformed').documentElement;
  if (assertion?.localName !== 'Assertion' || assertion.namespaceURI !== SAML_ASSERTION_NS) {
    throw new SamlError('saml_response_malformed', 'The signed content is not an assertion.');
  }
  if (textOf(child(assertion, SAML_ASSERTION_NS, 'Issuer')) !== config.idpEntityId) {
    throw new SamlError('saml_issuer_mismatch', 'The assertion comes from another issuer.');
  }
  const assertionId = assertion.getAttribute('ID');
  if (assertionId === null || assertionId === '') throw new SamlError('saml_response_malformed', 'No assertion ID.');

  const now = (input.now ?? new Date()).getTime();
  const subjectElement = child(assertion, SAML_ASSERTION_NS, 'Subject');
  const nameId = subjectElement === undefined ? undefined : child(subjectElement, SAML_ASSERTION_NS, 'NameID');
  const subject = textOf(nameId);
  if (subjectElement === undefined || nameId === undefined || subject === undefined) {
    throw new SamlError('saml_subject_missing', 'The assertion names no subject.');
  }
  // The bearer confirmation for us: Recipient is our ACS, not expired (SAML profiles 4.1.4.2).
  const confirmations = children(subjectElement, SAML_ASSERTION_NS, 'SubjectConfirmation')
    .filter((confirmation) => confirmation.getAttribute('Method') === BEARER)
    .map((confirmation) => child(confirmation, SAML_ASSERTION_NS, 'SubjectConfirmationData'))
    .filter((data): data is Element => data !== undefined);
  const forUs = confirmations.filter((data) => data.getAttribute('Recipient') === sp.acsUrl);
  if (forUs.length === 0) throw new SamlError('saml_recipient_mismatch', 'The assertion is meant for another SP.');
  const current = forUs.filter((data) => {
    const notOnOrAfter = timestamp(data.getAttribute('NotOnOrAfter'));
    const notBefore = timestamp(data.getAttribute('NotBefore'));
    return (
      notOnOrAfter !== undefined &&
      now - SAML_CLOCK_SKEW_MS < notOnOrAfter &&
      (notBefore === undefined || now + SAML_CLOCK_SKEW_MS >= notBefore)
    );
  });
  const confirmation = current[0];
  if (confirmation === undefined) throw new SamlError('saml_expired', 'The subject confirmation has expired.');

  // InResponseTo from the signed confirmation; the Response's own (unsigned when only the assertion is) must agree.
  const signedInResponseTo = confirmation.getAttribute('InResponseTo') ?? '';
  const responseInResponseTo = root.getAttribute('InResponseTo') ?? '';
  if (responseInResponseTo !== '' && responseInResponseTo !== signedInResponseTo) {
    throw new SamlError('saml_in_response_to_mismatch', 'InResponseTo differs between response and assertion.');
  }
  const inResponseTo = signedInResponseTo === '' ? null : signedInResponseTo;
  if (inResponseTo === null && !config.allowIdpInitiated) {
    throw new SamlError('saml_idp_initiated_refused', 'This connection does not accept IdP-initiated sign-in.');
  }

  const conditions = child(assertion, SAML_ASSERTION_NS, 'Conditions');
  const expiries = [
    timestamp(confirmation.getAttribute('NotOnOrAfter')),
    timestamp(conditions?.getAttribute('NotOnOrAfter')),
  ].filter((value): value is number => value !== undefined);
  const expiresAt = Math.max(...expiries) + SAML_CLOCK_SKEW_MS;
  const replaySeconds = Math.min(REPLAY_MAX_SECONDS, Math.max(1, Math.ceil((expiresAt - now) / 1000)));

  const nameIdFormat = nameId.getAttribute('Format') || null;
  const email =
    attributeValues(assertion, config.attributes.email)[0] ??
    (nameIdFormat === EMAIL_ADDRESS_FORMAT ? subject : undefined) ??
    null;
  const authnStatement = children(assertion, SAML_ASSERTION_NS, 'AuthnStatement')[0];
  const identity: SamlIdentity = {
    subject,
    nameIdFormat,
    email,
    emailVerified: email !== null && config.emailVerifiedByIdp,
    name: attributeValues(assertion, config.attributes.name)[0] ?? null,
    groups: attributeValues(assertion, config.attributes.groups),
    sessionIndex: authnStatement?.getAttribute('SessionIndex') || null,
    inResponseTo,
    redirectTo: input.relayState === undefined || input.relayState === '' ? null : input.relayState,
  };
  return { identity, assertionId, replaySeconds };
}
