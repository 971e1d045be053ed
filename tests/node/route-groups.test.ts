import { OpenAPIHono } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import type { AppEnv } from '../../src/env.ts';
import { ROUTE_GROUPS } from '../../src/routes/groups.ts';
import { honoPath, routeChains } from '../../src/routes/lazy.ts';

// A Worker registers each group's routes from the static table in src/routes/groups.ts and loads the group on the
// first request for one of them: the table must be exactly what the group registers.
describe('the route table (src/routes/groups.ts)', () => {
  for (const group of ROUTE_GROUPS) {
    it(`lists exactly the routes the ${group.name} group registers, in its order`, async () => {
      const app = new OpenAPIHono<AppEnv>();
      (await group.load())(app);
      const registered = [
        ...new Set(app.routes.filter((route) => route.method !== 'ALL').map((r) => `${r.method} ${r.path}`)),
      ];
      expect(group.routes.map(([method, path]) => `${method} ${honoPath(path)}`)).toEqual(registered);
      // Every middleware the group registers is attached to one of its routes (routeChains throws otherwise).
      expect([...routeChains(app.routes).keys()]).toEqual(registered);
    });
  }

  it('names every route once, and the Worker registers them all in this order', () => {
    const table = ROUTE_GROUPS.flatMap((group) => group.routes.map(([method, path]) => `${method} ${honoPath(path)}`));
    expect(new Set(table).size).toBe(table.length);
    const routes = createApp({ worker: 'api', groups: ROUTE_GROUPS })
      .routes.filter((route) => route.method !== 'ALL')
      .map((route) => `${route.method} ${route.path}`);
    expect(routes).toEqual(table);
  });
});

describe('routeChains', () => {
  const handler = () => new Response('ok');
  const middleware = async (_c: unknown, next: () => Promise<void>) => next();

  it('puts the middleware of a path before the handlers of each route on it', () => {
    const chains = routeChains([
      { method: 'ALL', path: '/a', handler: middleware },
      { method: 'GET', path: '/a', handler },
      { method: 'POST', path: '/a', handler: middleware },
      { method: 'POST', path: '/a', handler },
    ]);
    expect(chains.get('GET /a')).toEqual([middleware, handler]);
    expect(chains.get('POST /a')).toEqual([middleware, middleware, handler]);
  });

  it('refuses middleware it cannot attach to a route', () => {
    expect(() => routeChains([{ method: 'ALL', path: '/b/*', handler: middleware }])).toThrow(/no route/);
    expect(() =>
      routeChains([
        { method: 'GET', path: '/a', handler },
        { method: 'ALL', path: '/a', handler: middleware },
      ]),
    ).toThrow(/after its route/);
  });
});
