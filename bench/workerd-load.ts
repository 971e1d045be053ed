/**
 * workerd's own start-up of a script, without Miniflare, shared by `npm run bench:bundle` and
 * `npm run bench:dependencies`: `workerd test` of a config that holds nothing but the script loads it as a deploy
 * would (compiles the module and evaluates its top level), finds no test and exits. Its wall time, and with valgrind
 * its instruction count, are the runtime's cost of the script alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

/** The workerd package (CommonJS, no types) exports the path of its binary as `default`. */
export const workerdBinary = (createRequire(import.meta.url)('workerd') as { default: string }).default;

/** The compatibility date and flags of wrangler.toml (`root`), which every measured script runs with. */
export async function compatibility(root: string): Promise<{ date: string; flags: string[] }> {
  const toml = await readFile(join(root, 'wrangler.toml'), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (date === undefined) throw new Error('no compatibility_date in wrangler.toml');
  const flags = [...(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? '').matchAll(/"([^"]+)"/g)]
    .map((m) => m[1])
    .filter((flag) => flag !== undefined);
  return { date, flags };
}

/** Writes a config for `scriptPath` (copied beside it into `dir`) and returns the config's path. */
export async function workerdConfig(
  dir: string,
  scriptPath: string,
  compat: { date: string; flags: readonly string[] },
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'worker.js'), await readFile(scriptPath));
  const flags = compat.flags.map((flag) => JSON.stringify(flag)).join(', ');
  const config =
    'using Workerd = import "/workerd/workerd.capnp";\n' +
    'const config :Workerd.Config = (services = [(name = "main", worker = .worker)]);\n' +
    `const worker :Workerd.Worker = (modules = [(name = "worker.js", esModule = embed "worker.js")], ` +
    `compatibilityDate = "${compat.date}", compatibilityFlags = [${flags}]);\n`;
  await writeFile(join(dir, 'config.capnp'), config);
  return join(dir, 'config.capnp');
}

/** Whether workerd got as far as looking for tests: the module compiled and evaluated. */
export const loaded = (run: { stderr: string }) => run.stderr.includes('No tests found');

/** One load's wall ms. */
export function workerdLoad(config: string): number {
  const began = performance.now();
  const run = spawnSync(workerdBinary, ['test', config], { encoding: 'utf8' });
  const ms = performance.now() - began;
  if (!loaded(run)) throw new Error(`workerd test ${config} failed:\n${run.stderr}`);
  return ms;
}

/** One load's instructions (callgrind), or null where valgrind is not installed. */
export function workerdInstructions(config: string): number | null {
  return callgrind([workerdBinary, 'test', config], loaded, `workerd test ${config}`);
}

/**
 * The instructions one run of `argv` executes under valgrind's callgrind (the whole process), or null where valgrind
 * is not installed. Throws when the run did not do what it is measured for (`succeeded`) or callgrind counted nothing.
 */
export function callgrind(
  argv: readonly string[],
  succeeded: (run: { status: number | null; stderr: string }) => boolean,
  what: string,
): number | null {
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...argv], {
    encoding: 'utf8',
  });
  if (run.error) return null;
  const collected = /Collected : (\d+)/.exec(run.stderr)?.[1];
  if (collected === undefined || !succeeded(run)) throw new Error(`callgrind of ${what} failed:\n${run.stderr}`);
  return Number(collected);
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

// wrangler.toml's [alias] for zod's locales index (the specifier as zod's own entries write it).
const zodLocales: Plugin = {
  name: 'zod-locales',
  setup(bundler) {
    bundler.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, () => ({
      path: join(repositoryRoot, 'src', 'lib', 'zod-locales.ts'),
    }));
  },
};

/**
 * Bundles `source` (an ES module Worker whose imports resolve from the repository's root) into `outfile` as wrangler
 * bundles the Worker for production: esbuild, minified ESM, workerd's conditions, `node:*` and `cloudflare:*` left
 * to the runtime, zod's locales replaced as wrangler.toml's `[alias]` does. No code splitting: a dynamic import is
 * bundled into the same script, as wrangler does. Returns esbuild's metafile of the build.
 */
export async function bundleProbe(source: string, outfile: string): Promise<Metafile> {
  const result = await build({
    stdin: { contents: source, resolveDir: repositoryRoot, sourcefile: 'probe.js', loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    external: ['node:*', 'cloudflare:*'],
    outfile,
    plugins: [zodLocales],
    logLevel: 'error',
    metafile: true,
  });
  return result.metafile;
}
