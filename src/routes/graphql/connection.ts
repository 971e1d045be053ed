import type { ArgBuilder, ObjectRef } from '@pothos/core';
import { builder, type SchemaTypes } from './builder.ts';

/** A page of a REST list service: `{ data, nextCursor }`. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

const PageInfo = builder.objectRef<Page<unknown>>('PageInfo').implement({
  description: 'Where this page ends. Lists only page forward (keyset cursors, as in REST).',
  fields: (t) => ({
    hasNextPage: t.boolean({ resolve: (page) => page.nextCursor !== null }),
    endCursor: t.string({
      nullable: true,
      description: 'Pass as `after` for the next page (the REST `nextCursor`); null on the last page.',
      resolve: (page) => page.nextCursor,
    }),
  }),
});

/**
 * A Relay-style connection over a REST list service's page: `nodes` and `pageInfo { hasNextPage endCursor }`. There
 * are no `edges`: the list services keep one keyset cursor per page (after its last row), not one per row.
 */
export function connection<T>(name: string, node: ObjectRef<SchemaTypes, T>, description: string) {
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    description,
    fields: (t) => ({
      nodes: t.field({ type: [node], resolve: (page) => page.data }),
      pageInfo: t.field({ type: PageInfo, resolve: (page) => page }),
    }),
  });
}

/** `first` and `after` as every connection takes them, mapped onto a REST query's `limit` and `cursor`. */
export const pageArgs = (arg: ArgBuilder<SchemaTypes>, defaultSize: number, maxSize: number) =>
  ({
    first: arg.int({
      defaultValue: defaultSize,
      description: `Page size, 1 to ${maxSize} (default ${defaultSize}); outside the range is an error, never clamped.`,
    }),
    after: arg.string({ description: 'The `endCursor` of the previous page, unchanged.' }),
  }) as const;

/** The connection arguments as the REST list query names them. */
export function restPage(args: { first?: number | null; after?: string | null }): { limit?: number; cursor?: string } {
  return {
    ...(args.first === null || args.first === undefined ? {} : { limit: args.first }),
    ...(args.after === null || args.after === undefined ? {} : { cursor: args.after }),
  };
}
