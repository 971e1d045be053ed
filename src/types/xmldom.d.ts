/**
 * The part of `@xmldom/xmldom` the SAML service uses (src/services/sso/saml/xml.ts), without the package's own
 * declaration file: it starts with `/// <reference lib="dom" />`, which would put the browser's globals (window,
 * document, a `CacheStorage` without `default`, DOM's BufferSource) into the Worker's type check. tsconfig.json maps
 * the module here; at run time the package itself is used.
 */
declare module '@xmldom/xmldom' {
  export interface XmlNode {
    readonly nodeType: number;
    readonly nodeValue: string | null;
    readonly firstChild: XmlNode | null;
    readonly nextSibling: XmlNode | null;
  }
  export interface Element extends XmlNode {
    readonly localName: string;
    readonly namespaceURI: string | null;
    getAttribute(name: string): string | null;
    getElementsByTagNameNS(namespace: string, localName: string): ArrayLike<Element> & Iterable<Element>;
  }
  export interface Document extends XmlNode {
    readonly documentElement: Element | null;
    getElementsByTagNameNS(namespace: string, localName: string): ArrayLike<Element> & Iterable<Element>;
  }
  export interface Options {
    locator?: object;
    errorHandler?: {
      warning?: (message: string) => void;
      error?: (message: string) => void;
      fatalError?: (message: string) => void;
    };
  }
  export class DOMParser {
    constructor(options?: Options);
    parseFromString(source: string, mimeType: string): Document;
  }
}
