import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { SamlError } from './errors.ts';

/**
 * Refuses what a SAML message never needs and attacks use: a DTD or entity declaration (XXE, billion laughs) and
 * comments (the NameID comment-injection trick, CVE-2017-11428 and kin). Checked on the raw text, before any parser
 * sees it.
 */
export function refuseDangerousXml(xml: string): void {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new SamlError('saml_xml_dtd_refused', 'The XML declares a DTD or entities.');
  }
  if (xml.includes('<!--')) throw new SamlError('saml_xml_comment_refused', 'The XML carries comments.');
}

/** Parses `xml` (already through `refuseDangerousXml`) into a DOM, any parse error or warning refused. */
export function parseXml(xml: string, code: 'saml_response_malformed' | 'saml_metadata_invalid'): Document {
  refuseDangerousXml(xml);
  const problems: string[] = [];
  const report = (message: string): void => {
    problems.push(message);
  };
  const document = new DOMParser({
    locator: {},
    errorHandler: { warning: report, error: report, fatalError: report },
  }).parseFromString(xml, 'text/xml');
  if (problems.length > 0 || !document.documentElement) {
    throw new SamlError(code, 'The XML is not well formed.');
  }
  return document;
}

/** The element children of `parent` named `localName` in namespace `namespace`. */
export function children(parent: Element, namespace: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === 1) {
      const element = node as Element;
      if (element.namespaceURI === namespace && element.localName === localName) found.push(element);
    }
  }
  return found;
}

/** The one child `localName` of `parent`, or undefined (several refused as `code`). */
export function child(parent: Element, namespace: string, localName: string): Element | undefined {
  const found = children(parent, namespace, localName);
  if (found.length > 1) throw new SamlError('saml_response_malformed', `More than one ${localName}.`);
  return found[0];
}

/** The text of `element` when it is exactly one text node (no elements, no comments), trimmed. */
export function textOf(element: Element | undefined): string | undefined {
  if (element === undefined) return undefined;
  let text = '';
  for (let node = element.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType !== 3 && node.nodeType !== 4) {
      throw new SamlError('saml_response_malformed', `${element.localName} has markup inside.`);
    }
    text += node.nodeValue ?? '';
  }
  const trimmed = text.trim();
  return trimmed === '' ? undefined : trimmed;
}

export const SAML_ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const SAML_PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const SAML_METADATA_NS = 'urn:oasis:names:tc:SAML:2.0:metadata';
export const XMLDSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
