/**
 * What each library the Worker starts with, and parts of Eventra's own code, cost workerd at start-up:
 * `npm run bench:dependencies -- [--runs 5]`.
 *
 * Each probe is a tiny Worker that imports one library (and builds what the Worker builds with it at module scope:
 * a table, a schema, a route), bundled by esbuild as wrangler bundles the Worker (minified ESM, zod's locales
 * replaced by src/lib/zod-locales.ts as wrangler.toml's `[alias]` does), then loaded by `workerd test`
 * (bench/workerd-load.ts) beside a trivial Worker: median wall ms over `--runs` loads and, where valgrind is
 * installed, instructions (callgrind, within 1% run to run). The figures say which dependency earns its start-up
 * (docs/PERFORMANCE.md, "The next three costs"); `npm run bench:bundle` measures the Workers themselves. Not part of
 * `npm test`.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { root, table } from './stack.ts';
import { bundleProbe, compatibility, median, workerdConfig, workerdInstructions, workerdLoad } from './workerd-load.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Number(values.runs));

const respond = (expression: string) => `export default { fetch() { return new Response(String(${expression})); } };`;

/** name -> the probe's source (an ES module Worker). */
const PROBES: Record<string, string> = {
  'trivial Worker (the floor)': respond("'ok'"),
  hono: `import { Hono } from 'hono';
    const app = new Hono(); app.get('/', (c) => c.text('ok'));
    export default app;`,
  jose: `import { jwtVerify, SignJWT } from 'jose';\n${respond('typeof jwtVerify + typeof SignJWT')}`,
  '@upstash/redis + @upstash/ratelimit': `import { Redis } from '@upstash/redis/cloudflare';
    import { Ratelimit } from '@upstash/ratelimit';
    ${respond('typeof Redis + typeof Ratelimit')}`,
  '@neondatabase/serverless (neon())': `import { neon } from '@neondatabase/serverless';\n${respond('typeof neon')}`,
  'drizzle-orm/neon-http + a table (the Neon driver included)': `import { drizzle } from 'drizzle-orm/neon-http';
    import { pgTable, uuid, text } from 'drizzle-orm/pg-core';
    import { eq } from 'drizzle-orm';
    const t = pgTable('t', { id: uuid().primaryKey(), name: text() });
    ${respond('typeof drizzle + typeof eq + typeof t')}`,
  'zod (classic) + a 7-field schema': `import { z } from 'zod';
    const S = z.object({ id: z.string().uuid(), name: z.string().min(1).max(200), email: z.string().email(),
      n: z.number().int().min(0), tags: z.array(z.string()).max(10), when: z.string().datetime(),
      ok: z.boolean().optional() });
    ${respond('S.safeParse({}).success')}`,
  'zod/mini + the same schema': `import { z } from 'zod/mini';
    const S = z.object({ id: z.uuid(), name: z.string().check(z.minLength(1), z.maxLength(200)), email: z.email(),
      n: z.int().check(z.minimum(0)), tags: z.array(z.string()).check(z.maxLength(10)), when: z.iso.datetime(),
      ok: z.optional(z.boolean()) });
    ${respond('S.safeParse({}).success')}`,
  '@hono/zod-openapi + one route (zod included)': `import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
    const app = new OpenAPIHono();
    const S = z.object({ id: z.string().uuid(), name: z.string().min(1).max(200) }).openapi('S');
    app.openapi(createRoute({ method: 'get', path: '/s',
      responses: { 200: { description: 'ok', content: { 'application/json': { schema: S } } } } }),
      (c) => c.json({ id: 'x', name: 'y' }));
    export default app;`,
  // Eventra's own modules, each with what it imports (the libraries above included, so read them against those).
  'ours: every table (src/db/schema, drizzle included)': `import * as schema from './src/db/schema/index.ts';
    ${respond('Object.keys(schema).length')}`,
  'ours: the bindings schemas (src/env.ts, zod included)': `import * as env from './src/env.ts';
    ${respond('Object.keys(env).length')}`,
  'ours: the request path, no route (createApp, no groups)': `import { createApp } from './src/app.ts';
    export default createApp({ worker: 'public', groups: [] });`,
  'ours: the public Worker (src/public.ts)': `export { default } from './src/public.ts';`,
};

const work = await mkdtemp(join(tmpdir(), 'eventra-dependencies-'));
try {
  const compat = await compatibility(root);
  const probes = [];
  for (const [index, [name, source]] of Object.entries(PROBES).entries()) {
    const outfile = join(work, String(index), 'probe.js');
    await bundleProbe(source, outfile);
    const config = await workerdConfig(join(work, String(index)), outfile, compat);
    probes.push({
      name,
      config,
      bytes: (await stat(outfile)).size,
      gzip: gzipSync(readFileSync(outfile), { level: 9 }).length,
    });
  }
  const walls = probes.map(() => [] as number[]);
  for (let run = 0; run < runs; run += 1) {
    probes.forEach((probe, index) => walls[index]?.push(workerdLoad(probe.config)));
  }
  const measured = probes.map((probe, index) => ({
    ...probe,
    wallMs: median(walls[index] ?? []),
    instructions: workerdInstructions(probe.config),
  }));
  const floor = measured[0];
  if (floor === undefined) throw new Error('no floor');
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  const signed = (value: number) => `${value < 0 ? '' : '+'}${value.toFixed(1)}`;
  const over = (value: number | null, base: number | null) =>
    value === null || base === null ? 'n/a' : `${signed((value - base) / 1e6)} M`;
  console.log(
    `\nworkerd start-up per library (\`workerd test\`: compile and evaluate the probe), ${String(runs)} runs, medians\n`,
  );
  console.log(
    table([
      ['probe', 'raw KiB', 'gzip KiB', 'wall ms', 'over floor ms', 'instructions over floor'],
      ...measured.map((probe) => [
        probe.name,
        kib(probe.bytes),
        kib(probe.gzip),
        probe.wallMs.toFixed(1),
        probe === floor ? '' : signed(probe.wallMs - floor.wallMs),
        probe === floor
          ? `${floor.instructions === null ? 'n/a' : (floor.instructions / 1e6).toFixed(1)} M (itself)`
          : over(probe.instructions, floor.instructions),
      ]),
    ]),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
