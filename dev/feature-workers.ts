/**
 * The feature Workers the API Worker calls over service bindings (issue #13: rarely used features out of the API
 * Worker's bundle), as miniflare auxiliary Workers for the vitest pool (vitest.config.ts). `wrangler dev` runs them
 * from their configs itself (dev/run.ts passes every config); the pool only runs JavaScript it is handed, so each is
 * bundled first by wrangler's own build (`wrangler deploy --dry-run`, as deployed, into the gitignored build/), and
 * its name and compatibility settings are read from its config by wrangler (it has no bindings), so the test Worker
 * is the deployed one.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Each feature Worker: its config, and the file its build writes (named after `main`). */
export const FEATURE_WORKERS = [
  { config: 'workers/pdf/wrangler.toml', output: 'pdf.js' },
  { config: 'workers/saml/wrangler.toml', output: 'saml.js' },
  { config: 'workers/webauthn/wrangler.toml', output: 'webauthn.js' },
  { config: 'workers/formats/wrangler.toml', output: 'formats.js' },
] as const;

/** The `--config` arguments that make `wrangler dev` run the API Worker (first: it takes the port) and each feature. */
export function devConfigArguments(): string[] {
  return ['wrangler.toml', ...FEATURE_WORKERS.map((worker) => worker.config)].flatMap((config) => ['--config', config]);
}

/**
 * Miniflare worker options of every feature Worker in `environment`, freshly bundled (in parallel, about 2 s).
 * Rejects if a build fails.
 */
export async function featureWorkerOptions(environment: string) {
  // wrangler's API is loaded only here: dev/run.ts needs the config arguments above, not the build.
  const { unstable_readConfig } = await import('wrangler');
  return Promise.all(
    FEATURE_WORKERS.map(async ({ config, output }) => {
      const outdir = path.join(root, 'build', 'workers', path.basename(path.dirname(config)));
      // Through this Node (process.execPath): the wrangler shim's `env node` may find an older system Node.
      const wrangler = path.join(root, 'node_modules/wrangler/bin/wrangler.js');
      const args = ['deploy', '--dry-run', '--config', config, '--env', environment, '--outdir', outdir];
      await promisify(execFile)(process.execPath, [wrangler, ...args], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false' },
      }).catch((error: unknown) => {
        throw new Error(`building ${config} failed`, { cause: error });
      });
      // wrangler's Config type refers to workers-types, which this Node program does not load: the fields used here.
      const read = unstable_readConfig({ config: path.join(root, config), env: environment }) as unknown as {
        name: string;
        compatibility_date?: string;
        compatibility_flags: string[];
      };
      if (read.compatibility_date === undefined) throw new Error(`${config} sets no compatibility_date`);
      return {
        name: read.name,
        compatibilityDate: read.compatibility_date,
        compatibilityFlags: read.compatibility_flags,
        modules: true,
        scriptPath: path.join(outdir, output),
      };
    }),
  );
}
