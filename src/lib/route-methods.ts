import { TrieRouter } from 'hono/router/trie-router';

interface RouteEntry {
  method: string;
  path: string;
}

/**
 * The methods each path of an app answers, for CORS preflights (`Access-Control-Allow-Methods`): the same view of
 * the routes as the 405's `Allow` header (hono/method-not-allowed): middleware (`ALL`) is not a route, and a GET
 * route answers HEAD too. The router is built on the first call, once every route is registered (the routes are
 * read lazily), and kept for the isolate's life with the app.
 *
 * @example
 * const methodsOf = routeMethods(() => app.routes);
 * methodsOf('/api/v1/events/3d2c...'); // ['GET', 'HEAD', 'PATCH', 'DELETE']
 */
export function routeMethods(routes: () => readonly RouteEntry[]): (path: string) => string[] {
  let router: TrieRouter<string[]> | undefined;
  return (path) => {
    if (router === undefined) {
      const methodsByPath = new Map<string, Set<string>>();
      for (const route of routes()) {
        if (route.method === 'ALL' || route.method === 'HEAD') continue;
        const methods = methodsByPath.get(route.path) ?? new Set<string>();
        methods.add(route.method);
        if (route.method === 'GET') methods.add('HEAD');
        methodsByPath.set(route.path, methods);
      }
      router = new TrieRouter<string[]>();
      for (const [routePath, methods] of methodsByPath) router.add('ALL', routePath, [...methods]);
    }
    const allowed = new Set<string>();
    for (const [methods] of router.match('ALL', path)[0]) for (const method of methods) allowed.add(method);
    return [...allowed];
  };
}
