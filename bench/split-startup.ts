/**
 * An experiment for issue #13: would code splitting shorten the Worker's cold start in workerd?
 *
 * Builds src/index.ts with esbuild's code splitting (ESM chunks; every route group's `import()` becomes its own
 * chunk) and starts fresh Miniflare instances of:
 *   - the trivial Worker (the floor);
 *   - the split build with all its chunks uploaded (what a deploy of it would upload);
 *   - the split build's start-up closure only (index.js and the chunks it imports statically; enough to answer
 *     "ready", not requests that load a route group), i.e. what start-up would cost if workerd compiled a module only
 *     when it is first imported;
 *   - the single bundle `npm run build` makes (wrangler deploy --dry-run --env production).
 * Prints the medians of new -> ready per variant and the closure's size.
 *
 * Run: `node bench/split-startup.ts [--runs 7]`. Not part of `npm run bench`: its answer (2026-12-02: no, workerd
 * compiles every uploaded module at start) is recorded in docs/PERFORMANCE.md.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { WRANGLER } from '../dev/feature-workers.ts';
import { FAKE_VARS, RESOURCE_BINDINGS } from './worker-bindings.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

const work = await mkdtemp(join(tmpdir(), 'eventra-split-'));
try {
  // 1. The split build (wrangler.toml's zod-locales alias as an esbuild plugin; node: and cloudflare: are workerd's).
  const splitDir = join(work, 'split');
  const result = await build({
    entryPoints: [join(root, 'src/index.ts')],
    bundle: true,
    splitting: true,
    format: 'esm',
    outdir: splitDir,
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['node:*', 'cloudflare:*'],
    minify: true,
    target: 'es2022',
    metafile: true,
    logLevel: 'error',
    plugins: [
      {
        name: 'zod-locales',
        setup(esbuild) {
          esbuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, () => ({
            path: join(root, 'src/lib/zod-locales.ts'),
          }));
        },
      },
    ],
  });
  const outputs = result.metafile.outputs;
  const outputOf = (path: string) => {
    const key = Object.keys(outputs).find((name) => resolve(root, name) === path);
    const output = key === undefined ? undefined : outputs[key];
    if (output === undefined) throw new Error(`no esbuild output ${path}`);
    return output;
  };

  // 2. The start-up closure: index.js and what it imports statically.
  const closure = new Set<string>();
  const pending = [join(splitDir, 'index.js')];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (closure.has(path)) continue;
    closure.add(path);
    for (const imported of outputOf(path).imports) {
      if (imported.kind === 'import-statement' && !imported.external) pending.push(resolve(root, imported.path));
    }
  }
  const closureDir = join(work, 'closure');
  await mkdir(closureDir);
  for (const path of closure) await copyFile(path, join(closureDir, path.slice(splitDir.length + 1)));
  const closureBytes = await Promise.all([...closure].map((path) => readFile(path)));
  const allChunks = (await readdir(splitDir)).filter((name) => name.endsWith('.js'));

  // 3. The single bundle, as npm run build makes it.
  const singleDir = join(work, 'single');
  const wrangler = spawnSync(
    process.execPath,
    [WRANGLER, 'deploy', '--dry-run', '--env', 'production', '--outdir', singleDir],
    { cwd: root, encoding: 'utf8' },
  );
  if (wrangler.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${wrangler.stderr}`);

  const floorDir = join(work, 'floor');
  await mkdir(floorDir);
  await writeFile(join(floorDir, 'index.js'), "export default { fetch: () => new Response('ok') };\n");

  // 4. Start-up: the benchmarks' bindings (bench/worker-bindings.ts: fake secrets; nothing is called).
  const toml = await readFile(join(root, 'wrangler.toml'), 'utf8');
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (compatibilityDate === undefined) throw new Error('no compatibility_date in wrangler.toml');
  async function ready(dir: string): Promise<number> {
    const names = (await readdir(dir)).filter((name) => name.endsWith('.js') && name !== 'index.js');
    const began = performance.now();
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        modules: ['index.js', ...names].map((name) => ({ type: 'ESModule' as const, path: join(dir, name) })),
        modulesRoot: dir,
        compatibilityDate,
        compatibilityFlags: ['nodejs_compat'],
        bindings: FAKE_VARS,
        ...RESOURCE_BINDINGS,
        handleStructuredLogs: () => undefined,
      }),
    );
    try {
      await mf.ready;
      return performance.now() - began;
    } finally {
      await mf.dispose();
    }
  }
  const variants = {
    'trivial Worker (floor)': floorDir,
    [`split, all ${allChunks.length} modules uploaded`]: splitDir,
    [`split, start-up closure only (${closure.size} modules)`]: closureDir,
    'single bundle (npm run build)': singleDir,
  };
  const samples = new Map<string, number[]>();
  for (const [name, dir] of Object.entries(variants)) {
    await ready(dir); // warm-up, discarded
    samples.set(name, []);
  }
  for (let i = 0; i < runs; i++) {
    for (const [name, dir] of Object.entries(variants)) samples.get(name)?.push(await ready(dir));
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN;
  const floor = median(samples.get('trivial Worker (floor)') ?? []);
  console.table(
    Object.fromEntries(
      [...samples].map(([name, list]) => [
        name,
        { 'new -> ready (ms)': median(list).toFixed(0), 'over the floor (ms)': (median(list) - floor).toFixed(0) },
      ]),
    ),
  );
  const raw = closureBytes.reduce((sum, bytes) => sum + bytes.length, 0);
  const gzip = gzipSync(Buffer.concat(closureBytes), { level: 9 }).length;
  console.log(
    `start-up closure: ${closure.size} of ${allChunks.length} modules, ${(raw / 1024).toFixed(0)} KiB raw, ` +
      `${(gzip / 1024).toFixed(0)} KiB gzip`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
