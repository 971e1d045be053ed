/**
 * The types of `@whatwg-node/fetch` as graphql-yoga's typings use them, without the package's own declaration file:
 * that file starts with `/// <reference lib="dom" />`, which would put the browser's globals (window, document, a
 * `CacheStorage` without `default`, DOM's BufferSource) into the Worker's type check. tsconfig.json maps the module
 * here; at run time the Worker's own fetch API is used (yoga is given it), so only the types are replaced.
 */
declare module '@whatwg-node/fetch' {
  export const Response: typeof globalThis.Response;
  export const createFetch: (opts?: Record<string, unknown>) => {
    fetch: typeof fetch;
    Request: typeof Request;
    Response: typeof Response;
    Headers: typeof Headers;
    FormData: typeof FormData;
    ReadableStream: typeof ReadableStream;
    WritableStream: typeof WritableStream;
    TransformStream: typeof TransformStream;
    CompressionStream: typeof CompressionStream;
    DecompressionStream: typeof DecompressionStream;
    TextDecoderStream: typeof TextDecoderStream;
    TextEncoderStream: typeof TextEncoderStream;
    Blob: typeof Blob;
    File: typeof File;
    crypto: typeof crypto;
    btoa: typeof btoa;
    TextEncoder: typeof TextEncoder;
    TextDecoder: typeof TextDecoder;
    URLPattern: typeof URLPattern;
    URL: typeof URL;
    URLSearchParams: typeof URLSearchParams;
  };
}
