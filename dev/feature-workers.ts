/**
 * The feature Workers the API Worker calls over service bindings (issue #13: rarely used features out of the API
 * Worker's bundle), as miniflare auxiliary Workers for the vitest pool (vitest.config.ts). `wrangler dev` runs them
 * from their configs itself (dev/run.ts passes every config); the pool only runs JavaScript it is handed, so each is
 * bundled first by wrangler's own build (`wrangler deploy --dry-run`, as deployed, into the gitignored build/), and
 * its name and compatibility settings are read from its config by wrangler (it has no bindings), so the test Worker
 * is the deployed one.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * wrangler's own entry script, to run with this Node (process.execPath, Node 24 from the `node` devDependency): the
 * `node_modules/.bin/wrangler` shim's `env node` may find an older system Node.
 */
export const WRANGLER = path.join(root, 'node_modules/wrangler/bin/wrangler.js');

/** Each feature Worker's config (its `main`, name and compatibility settings are read from it). */
export const FEATURE_WORKERS = [
  'workers/pdf/wrangler.toml',
  'workers/saml/wrangler.toml',
  'workers/webauthn/wrangler.toml',
  'workers/formats/wrangler.toml',
] as const;

/** The public Worker's config (src/public.ts): the buyer's routes, in front of the API Worker. */
export const PUBLIC_WORKER = 'workers/public/wrangler.toml';

/**
 * The `--config` arguments that make `wrangler dev` run the API Worker and each feature Worker. The first config's
 * Worker takes the port: the API Worker (`npm run dev`: every route, the cron endpoint) or, with `front: 'public'`,
 * the public Worker, which serves the buyer's routes itself and hands every other request to the API Worker, as
 * production's routes split them (tests/e2e/stack.ts).
 */
export function devConfigArguments(front: 'api' | 'public' = 'api'): string[] {
  const configs = front === 'public' ? [PUBLIC_WORKER, 'wrangler.toml'] : ['wrangler.toml'];
  return [...configs, ...FEATURE_WORKERS].flatMap((config) => ['--config', config]);
}

/**
 * The environment additions of every local `wrangler dev` (dev/run.ts, tests/e2e/stack.ts): no usage metrics sent,
 * and no fetch of the `Request.cf` placeholder from workers.cloudflare.com (no Worker here reads `request.cf`;
 * offline, the fetch only printed a warning with a DNS error at every start).
 */
export const WRANGLER_DEV_ENVIRONMENT = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

/**
 * Bundles a Worker (a feature Worker, or the public Worker for bench/bundle.ts) as `environment` deploys it
 * (`wrangler deploy --dry-run`) into `outdir`: its script's path (named after its `main`), and the name and
 * compatibility settings its config gives. Rejects if the build fails.
 */
export async function buildWorker(config: string, environment: string, outdir: string) {
  // wrangler's API is loaded only here: dev/run.ts needs the config arguments above, not the build.
  const { unstable_readConfig } = await import('wrangler');
  const args = ['deploy', '--dry-run', '--config', config, '--env', environment, '--outdir', outdir];
  await promisify(execFile)(process.execPath, [WRANGLER, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false' },
  }).catch((error: unknown) => {
    throw new Error(`building ${config} failed`, { cause: error });
  });
  // wrangler's Config type refers to workers-types, which this Node program does not load: the fields used here.
  const read = unstable_readConfig({ config: path.join(root, config), env: environment }) as unknown as {
    name: string;
    main?: string;
    compatibility_date?: string;
    compatibility_flags: string[];
  };
  if (read.main === undefined || read.compatibility_date === undefined) {
    throw new Error(`${config} sets no main or no compatibility_date`);
  }
  return {
    scriptPath: path.join(outdir, `${path.basename(read.main, path.extname(read.main))}.js`),
    name: read.name,
    compatibilityDate: read.compatibility_date,
    compatibilityFlags: read.compatibility_flags,
  };
}

/**
 * A digest of what the feature Workers' bundles are made from: the source and Worker configs (every file under src/
 * and workers/, except under hidden directories: a running `wrangler dev` keeps its state and temporary bundles in
 * `workers/<name>/.wrangler/`), the TypeScript configs, and the locked dependencies (wrangler and esbuild among them).
 * `base`: the repository's root (another one in tests).
 */
export async function inputsDigest(environment: string, base = root): Promise<string> {
  const hash = createHash('sha256').update(`${environment}\0`);
  const listed = await Promise.all(
    ['src', 'workers'].map(async (directory) =>
      (await readdir(path.join(base, directory), { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(base, path.join(entry.parentPath, entry.name)))
        .filter((file) => !file.split(path.sep).some((segment) => segment.startsWith('.'))),
    ),
  );
  const files = [...listed.flat(), 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json'].sort();
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(await readFile(path.join(base, file)))
      .update('\0');
  return hash.digest('hex');
}

type BuiltWorker = Awaited<ReturnType<typeof buildWorker>>;

/** build/workers/<environment>/manifest.json: the bundles' settings, and the digest of the inputs they were made from. */
interface Manifest {
  digest: string;
  workers: BuiltWorker[];
}

/**
 * Miniflare worker options of every feature Worker in `environment`, bundled as deployed (in parallel: about 8 s
 * and 11 s of CPU on 2 cores). The bundles are kept in build/workers/<environment>/ with a manifest of their
 * settings and the digest of their inputs, and built again only when an input changed: a second `npm test` on the
 * same source starts without the four wrangler builds (or wrangler's config reader).
 */
export async function featureWorkerOptions(environment: string) {
  const outdir = path.join(root, 'build', 'workers', environment);
  const manifestPath = path.join(outdir, 'manifest.json');
  const digest = await inputsDigest(environment);
  const manifest = await readFile(manifestPath, 'utf8').then(
    (text) => JSON.parse(text) as Partial<Manifest>,
    (): Partial<Manifest> => ({}),
  );
  const options = (workers: BuiltWorker[]) => workers.map((worker) => ({ ...worker, modules: true }));
  const { workers } = manifest;
  if (
    manifest.digest === digest &&
    workers?.length === FEATURE_WORKERS.length &&
    workers.every((worker) => existsSync(worker.scriptPath))
  ) {
    return options(workers);
  }
  await rm(manifestPath, { force: true });
  const built = await Promise.all(
    FEATURE_WORKERS.map((config) =>
      buildWorker(config, environment, path.join(outdir, path.basename(path.dirname(config)))),
    ),
  );
  await writeFile(manifestPath, JSON.stringify({ digest, workers: built } satisfies Manifest, null, 2));
  return options(built);
}
