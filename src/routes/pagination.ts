import { z } from '@hono/zod-openapi';
import { MAX_CURSOR_LENGTH } from '../lib/cursor.ts';

/** The largest page any list serves (each list's `limit` stops there). */
export const MAX_PAGE_ITEMS = 100;

/** Cursors are base64url (every list writes them so); anything else answers 400. */
const CURSOR = /^[A-Za-z0-9_-]+$/;

/**
 * The response of every cursor-paginated list: `{ data, nextCursor }`, registered in the OpenAPI document as `name`.
 * Pass `nextCursor` back as `cursor` for the next page; it is null on the last page.
 */
export function cursorPage<T extends z.ZodType>(
  item: T,
  options: { name: string; items: string; cursorExample: string; description?: string; maxItems?: number },
) {
  return z
    .object({
      data: z
        .array(item)
        .max(options.maxItems ?? MAX_PAGE_ITEMS)
        .openapi({ description: options.items }),
      nextCursor: z.string().max(MAX_CURSOR_LENGTH).regex(CURSOR).nullable().openapi({
        description: 'Pass as `cursor` for the next page; null on the last page.',
        example: options.cursorExample,
      }),
    })
    .openapi(options.name, options.description === undefined ? {} : { description: options.description });
}

/**
 * The `limit` and `cursor` query parameters of a cursor-paginated list: spread them into the list's strict query
 * schema. `limit` outside 1..max answers 400 (never clamped silently).
 */
export function pageParams(options: { defaultSize: number; maxSize: number; cursorExample: string }) {
  const { defaultSize, maxSize, cursorExample } = options;
  return {
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(maxSize)
      .default(defaultSize)
      .openapi({
        param: { name: 'limit', in: 'query' },
        format: 'int32',
        description: `Page size, 1 to ${maxSize} (default ${defaultSize}); outside the range answers 400.`,
        example: 20,
      }),
    cursor: z
      .string()
      .max(MAX_CURSOR_LENGTH)
      .regex(CURSOR, 'Malformed cursor')
      .optional()
      .openapi({
        param: { name: 'cursor', in: 'query' },
        description: 'The `nextCursor` of the previous page, unchanged (opaque). A malformed cursor answers 400.',
        example: cursorExample,
      }),
  };
}

/**
 * The `sort` query parameter of a list: an allow-list of orders (a leading `-` is descending), the first one the
 * default (the list's order before `sort` existed). Any other value answers 400 (pointer `/query/sort`) naming the
 * allowed values. The cursor remembers its sort: a cursor passed with another sort answers 400 too.
 */
export function sortParam<const T extends readonly [string, ...string[]]>(values: T, description: string) {
  const allowed = values.map((value) => `\`${value}\``).join(', ');
  return z
    .enum(values, { error: () => `Must be one of ${values.join(', ')}.` })
    .default(values[0] as T[0])
    .openapi({
      param: { name: 'sort', in: 'query' },
      description: `${description} One of ${allowed} (a leading \`-\` is descending; default \`${values[0]}\`); any other value answers 400.`,
      example: values[0],
    });
}
