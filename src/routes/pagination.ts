import { z } from '@hono/zod-openapi';

/**
 * The response of every cursor-paginated list: `{ data, nextCursor }`, registered in the OpenAPI document as `name`.
 * Pass `nextCursor` back as `cursor` for the next page; it is null on the last page.
 */
export function cursorPage<T extends z.ZodType>(
  item: T,
  options: { name: string; items: string; cursorExample: string; description?: string },
) {
  return z
    .object({
      data: z.array(item).openapi({ description: options.items }),
      nextCursor: z.string().nullable().openapi({
        description: 'Pass as `cursor` for the next page; null on the last page.',
        example: options.cursorExample,
      }),
    })
    .openapi(options.name, options.description === undefined ? {} : { description: options.description });
}
