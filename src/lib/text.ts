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
