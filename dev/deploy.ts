/**
 * Deploys every Worker of an environment, in the order their bindings need (docs/OPERATIONS.md, "Deploying"):
 *
 *   1. the feature Workers (dev/feature-workers.ts), which the API Worker calls over service bindings;
 *   2. the API Worker (wrangler.toml), which owns the EventLive class, the queue consumers and the crons;
 *   3. the public Worker (workers/public/wrangler.toml), which binds the API Worker and its EventLive class.
 *
 *   npm run deploy:staging [-- --secrets-file secrets.json]
 *   node dev/deploy.ts production [--secrets-file secrets.json] [--dry-run]
 *
 * `--secrets-file` goes to the API Worker and the public Worker (both run the app and need the same secrets); the
 * feature Workers have none. `--dry-run` builds each Worker as wrangler would deploy it and uploads nothing. Stops at
 * the first deploy that fails, so a Worker is never deployed against a dependency that did not deploy.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FEATURE_WORKERS, PUBLIC_WORKER, WRANGLER } from './feature-workers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'secrets-file': { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
});
const [environment] = positionals;
if (environment !== 'staging' && environment !== 'production') {
  console.error('usage: node dev/deploy.ts staging|production [--secrets-file <file>] [--dry-run]');
  process.exit(2);
}

function run(command: string, args: string[], shown = ['node', ...args]): void {
  console.log(`\n$ ${shown.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`failed (${result.error?.message ?? `exit ${String(result.status ?? result.signal)}`}); stopping`);
    process.exit(1);
  }
}

const wrangler = (args: string[]): void => run(process.execPath, [WRANGLER, ...args], ['wrangler', ...args]);
const secrets = values['secrets-file'] === undefined ? [] : ['--secrets-file', values['secrets-file']];
const dryRun = (name: string): string[] =>
  values['dry-run'] ? ['--dry-run', '--outdir', path.join(root, 'dist', name)] : [];

run(process.execPath, ['dev/docs-assets.ts']);
for (const config of FEATURE_WORKERS) {
  wrangler(['deploy', '--config', config, '--env', environment, ...dryRun(path.basename(path.dirname(config)))]);
}
wrangler(['deploy', '--config', 'wrangler.toml', '--env', environment, ...secrets, ...dryRun('api')]);
wrangler(['deploy', '--config', PUBLIC_WORKER, '--env', environment, ...secrets, ...dryRun('public')]);
