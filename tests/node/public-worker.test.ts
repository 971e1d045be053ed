import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unstable_readConfig } from 'wrangler';
import { PUBLIC_WORKER } from '../../dev/feature-workers.ts';
import { ROUTE_GROUPS } from '../../src/routes/groups.ts';
import { PUBLIC_WORKER_GROUPS, servesPath } from '../../src/routes/public-groups.ts';
import { bundleInputs } from '../support/bundle.ts';

// The public Worker (src/public.ts, workers/public/wrangler.toml) runs the API's app with the buyer's route groups
// only, so that the cold starts of the paths buyers call compile half the code (issue #13). What keeps it right:
// the same bindings as the API Worker in every environment, a bundle without the other groups, and a path split that
// sends every path it has no route for on to the API Worker. tests/e2e/sdk.test.ts runs it in front of the API Worker.

/** The fields of wrangler's config these checks read (its Config type refers to workers-types, not loaded here). */
interface ReadConfig {
  name: string;
  main?: string;
  compatibility_date?: string;
  compatibility_flags: string[];
  alias?: Record<string, string>;
  vars: Record<string, unknown>;
  secrets?: { required?: string[] };
  r2_buckets: unknown[];
  queues: { producers?: unknown[]; consumers?: unknown[] };
  services?: { binding: string; service: string }[];
  durable_objects: { bindings: { name: string; class_name: string; script_name?: string }[] };
  routes?: ({ pattern: string; zone_name?: string } | string)[];
  triggers: { crons?: string[] };
  assets?: unknown;
}

function read(config: string, env: string): ReadConfig {
  const read: unknown = unstable_readConfig({ config: path.resolve(config), env });
  return read as ReadConfig;
}

const publicNames = new Set(PUBLIC_WORKER_GROUPS.map((group) => group.name));
const staffGroups = ROUTE_GROUPS.filter((group) => !publicNames.has(group.name));
/** A request path of a route path, with each `{param}` filled in. */
const filled = (routePath: string): string => routePath.replaceAll(/{[^}]+}/g, 'a1b2c3');

describe('the public Worker', () => {
  for (const env of ['local', 'staging', 'production']) {
    it(`declares the API Worker's bindings, vars and secrets in ${env}, and only the buyer's routes`, () => {
      const api = read('wrangler.toml', env);
      const front = read(PUBLIC_WORKER, env);
      expect(front.main).toBe(path.resolve('src/public.ts'));
      expect(front.name).toBe(api.name.replace(/^eventra-/, 'eventra-public-'));
      expect([front.compatibility_date, front.compatibility_flags]).toEqual([
        api.compatibility_date,
        api.compatibility_flags,
      ]);
      expect(Object.values(front.alias ?? {}).map((file) => path.resolve(path.dirname(PUBLIC_WORKER), file))).toEqual(
        Object.values(api.alias ?? {}).map((file) => path.resolve(file)),
      );
      expect(front.vars).toEqual(api.vars);
      expect(front.secrets).toEqual(api.secrets);
      expect(front.r2_buckets).toEqual(api.r2_buckets);
      expect(front.queues.producers).toEqual(api.queues.producers);
      expect(front.services).toEqual([...(api.services ?? []), { binding: 'API', service: api.name }]);
      // The API Worker's Durable Object classes, bound by its script's name; it alone consumes queues and runs crons.
      expect(front.durable_objects.bindings).toEqual(
        api.durable_objects.bindings.map((binding) => ({ ...binding, script_name: api.name })),
      );
      expect(front.queues.consumers ?? []).toEqual([]);
      expect(front.triggers.crons ?? []).toEqual([]);
      expect(front.assets).toBeUndefined();
      // Deployed: `/api/v1/public/*` of each host pattern the API Worker is routed on.
      const hosts = (routes: ReadConfig['routes']): string[] =>
        (routes ?? []).map((route) => (typeof route === 'string' ? route : route.pattern).replace(/\/.*$/, ''));
      const paths = (front.routes ?? []).map((route) => (typeof route === 'string' ? route : route.pattern));
      expect(paths.every((pattern) => pattern.endsWith('/api/v1/public/*'))).toBe(true);
      expect(hosts(front.routes)).toEqual(hosts(api.routes));
    });
  }

  it("bundles the buyer's route groups and none of the others", async () => {
    const inputs = await bundleInputs('src/public.ts');
    const groupModules = inputs
      .map((input) => /^src\/routes\/([^/]+)\/index\.ts$/.exec(input)?.[1])
      .filter((name) => name !== undefined);
    expect(groupModules.sort()).toEqual([...publicNames].sort());
    for (const library of ['graphql', '@pothos/core', '@zxcvbn-ts/core', 'oauth4webapi']) {
      expect(inputs.some((input) => input.includes(`node_modules/${library}/`))).toBe(false);
    }
  });

  it('serves every path of its groups and sends every other route path on to the API Worker', () => {
    // No other group has a route on a path it serves, so its 405s and CORS preflights are the API Worker's.
    const served = servesPath(PUBLIC_WORKER_GROUPS);
    for (const group of PUBLIC_WORKER_GROUPS) {
      for (const [, routePath] of group.routes) expect(served(filled(routePath)), routePath).toBe(true);
    }
    for (const group of staffGroups) {
      for (const [, routePath] of group.routes) expect(served(filled(routePath)), routePath).toBe(false);
    }
    expect(served('/api/v1/public/events/')).toBe(false);
    expect(served('/api/v1/public/events//live')).toBe(false);
    expect(served('/api/v1/public/bookings/a1b2c3/invoice')).toBe(false);
    expect(served('/')).toBe(false);
  });
});
