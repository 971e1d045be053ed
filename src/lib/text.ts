/**
 * Text without control characters (Unicode category Cc: U+0000-U+001F and U+007F-U+009F), for names, titles and
 * other single-line fields. Written without the `u` flag on purpose: the OpenAPI generator copies a regex's source
 * into `pattern`, and a flagged regex would be published with a stray `/u` that clients would take literally.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const WITHOUT_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f-\u009f]*$/;

/**
 * A search term for LIKE / ILIKE, matched literally: `%`, `_` and the escape character (PostgreSQL's default `\`)
 * are escaped. The one copy every search uses.
 */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}

const UTF8 = new TextDecoder('utf-8');
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const ENCODER = new TextEncoder();

/**
 * Bytes as UTF-8 text (a leading byte order mark dropped); throws a TypeError when they are not UTF-8. For values
 * that are refused whole when malformed (a cursor, client data, a signed body); `decodeUtf8` says where they break.
 */
export function strictUtf8(bytes: Uint8Array): string {
  return STRICT_UTF8.decode(bytes);
}

/** Where bytes stop being UTF-8: the byte offset of the first malformed sequence and its 1-based line. */
export interface Utf8Fault {
  byteOffset: number;
  line: number;
}

/**
 * Bytes as UTF-8 text (a leading byte order mark dropped), or where they are not UTF-8. Decoding is done once,
 * leniently; only when the text holds U+FFFD is it checked whether each one was in the bytes (EF BF BD) or stands
 * for a malformed sequence: every byte before the first malformed sequence decodes to itself, so the text before a
 * replacement character re-encodes to exactly the bytes before it.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { fault: Utf8Fault } {
  const text = UTF8.decode(bytes);
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (let at = text.indexOf('\uFFFD'); at !== -1; at = text.indexOf('\uFFFD', at + 1)) {
    const before = text.slice(0, at);
    const byteOffset = bom + ENCODER.encode(before).length;
    if (bytes[byteOffset] !== 0xef || bytes[byteOffset + 1] !== 0xbf || bytes[byteOffset + 2] !== 0xbd) {
      return { fault: { byteOffset, line: before.split('\n').length } };
    }
  }
  return { text };
}
