import type { Context, Hono, Next } from 'hono';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { onError, validationHook } from '../errors/handler.ts';

/** A route as Hono and the OpenAPI document know it: the method and the path as `createRoute` writes it. */
export type RouteEntry = readonly [method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string];

/**
 * One route group (src/routes/<group>/index.ts): its routes, in the order the group registers them, and the group's
 * module, loaded on demand. The module's top level (zod schemas, route definitions, validators, handlers) runs only
 * when it is first imported: wrangler's bundler (esbuild, no code splitting) turns `import()` into a lazily
 * initialised module, so a cold isolate builds only the groups its requests need.
 */
export interface RouteGroup {
  name: string;
  routes: readonly RouteEntry[];
  load: () => Promise<(app: OpenAPIHono<AppEnv>) => void>;
}

/** A `createRoute` path as Hono's router writes it (`{id}` → `:id`), as @hono/zod-openapi converts it. */
export function honoPath(path: string): string {
  return path.replaceAll(/\/{(.+?)}/g, '/:$1');
}

/** One handler of a route's chain: the group's middleware for the path, the route's middleware, validators, handler. */
type ChainHandler = (c: Context<AppEnv>, next: Next) => Response | undefined | Promise<Response | undefined>;

interface RegisteredRoute {
  method: string;
  path: string;
  handler: unknown;
}

/**
 * The handlers an app registered, per route (`METHOD /path/:param`), in registration order: the middleware the app
 * registered for exactly that path before the route (`app.use(path, ...)`, method ALL) and then the route's own
 * handlers. Throws when the app registers middleware that this cannot attach to a route (another path pattern, or
 * after the route), so a group never loses middleware silently.
 */
export function routeChains(routes: readonly RegisteredRoute[]): Map<string, ChainHandler[]> {
  const chains = new Map<string, ChainHandler[]>();
  const middlewareByPath = new Map<string, ChainHandler[]>();
  const routedPaths = new Set<string>();
  for (const route of routes) {
    const handler = route.handler as ChainHandler;
    if (route.method === 'ALL') {
      if (routedPaths.has(route.path)) throw new Error(`middleware for ${route.path} registered after its route`);
      middlewareByPath.set(route.path, [...(middlewareByPath.get(route.path) ?? []), handler]);
      continue;
    }
    routedPaths.add(route.path);
    const key = `${route.method} ${route.path}`;
    const chain = chains.get(key) ?? [...(middlewareByPath.get(route.path) ?? [])];
    chain.push(handler);
    chains.set(key, chain);
  }
  for (const path of middlewareByPath.keys()) {
    if (!routedPaths.has(path)) throw new Error(`middleware for ${path}, which no route of the group answers`);
  }
  return chains;
}

/** A group's routes registered on an app of its own (the same zod-openapi app and validation hook as ever). */
async function buildGroup(group: RouteGroup): Promise<Map<string, ChainHandler[]>> {
  const [{ OpenAPIHono }, register] = await Promise.all([import('@hono/zod-openapi'), group.load()]);
  const groupApp: OpenAPIHono<AppEnv> = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  register(groupApp);
  return routeChains(groupApp.routes);
}

/**
 * Runs a route's chain on the request's own context, as Hono's compose runs the handlers of a match: each handler
 * gets `next`, a returned Response becomes `c.res`, a thrown error becomes `onError`'s problem at the handler that
 * threw (so the middleware before it sees a response, as it would without the lazy step), and the end of the chain
 * continues with the app's next matching handler. The route parameters stay those of the app's own match (the same
 * path pattern).
 */
async function runChain(c: Context<AppEnv>, chain: readonly ChainHandler[], next: Next): Promise<void> {
  let index = -1;
  const dispatch = async (i: number): Promise<void> => {
    if (i <= index) throw new Error('next() called multiple times');
    index = i;
    const handler = chain[i];
    if (handler === undefined) {
      await next();
      return;
    }
    let response: Response | undefined;
    let failed = false;
    try {
      response = await handler(c, () => dispatch(i + 1));
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      c.error = error;
      response = await onError(error, c);
      failed = true;
    }
    if (response && (!c.finalized || failed)) c.res = response;
  };
  await dispatch(0);
}

/**
 * Registers a group's routes with `app` by method and path only (from the group's static table), so routing, the
 * 405s and the CORS preflights know every route at start-up; the group's module is loaded, and its schemas, validators
 * and handlers built, when the first request for one of its routes arrives (once per isolate; a failed load is
 * retried by the next request). Every request still passes through all of `app`'s middleware first.
 */
export function registerLazily(app: Hono<AppEnv>, group: RouteGroup): void {
  let chains: Promise<Map<string, ChainHandler[]>> | undefined;
  for (const [method, path] of group.routes) {
    const key = `${method} ${honoPath(path)}`;
    app.on(method, honoPath(path), async (c, next) => {
      chains ??= buildGroup(group).catch((error: unknown) => {
        chains = undefined;
        throw error;
      });
      const chain = (await chains).get(key);
      if (chain === undefined) throw new Error(`route group ${group.name} does not register ${key}`);
      await runChain(c, chain, next);
    });
  }
}
