import { builtinModules } from 'node:module';
import { build } from 'esbuild';

/**
 * The input files of a Worker entry point's bundle, as wrangler bundles it (esbuild, ES modules, workerd's export
 * conditions; `cloudflare:*` and Node's built-ins external): every parsed input, tree-shaken or not, with paths
 * relative to the working directory (`src/...`, `node_modules/...`). For checks of what a bundle holds.
 */
export async function bundleInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*', 'node:*', ...builtinModules],
    outdir: 'unused',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}
