import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEATURE_WORKERS, featureWorkerOptions, inputsDigest } from '../../dev/feature-workers.ts';
import { bundleInputs } from '../support/bundle.ts';

// The feature Workers (src/workers/, docs/ARCHITECTURE.md "Feature Workers") exist to keep their libraries out of the
// API Worker's bundle, which workerd compiles at every cold start. An import of one of their modules from the API's
// side (a value import: `import type` is erased) would bring a library back without failing anything else, so each
// bundle's packages are checked here: esbuild, as wrangler bundles, from each entry point.

/** The libraries each feature Worker holds, by its entry point. */
const LIBRARIES: Record<string, string[]> = {
  'src/workers/pdf.ts': ['pdf-lib', '@pdf-lib/standard-fonts', 'pako'],
  'src/workers/saml.ts': ['@node-saml/node-saml', 'xml-crypto', '@xmldom/xmldom', 'xpath', 'xmlbuilder', 'xml2js'],
  'src/workers/webauthn.ts': ['@simplewebauthn/server', 'asn1js', '@peculiar/x509'],
  'src/workers/formats.ts': ['ical-generator', 'rrule', 'file-type', 'image-size', 'csv-parse'],
};

/** The npm packages an entry point's bundle reads (every parsed input, tree-shaken or not). */
async function packagesOf(entry: string): Promise<Set<string>> {
  const packages = new Set<string>();
  for (const input of await bundleInputs(entry)) {
    const at = input.lastIndexOf('node_modules/');
    if (at === -1) continue;
    const [scope = '', name = ''] = input.slice(at + 'node_modules/'.length).split('/');
    packages.add(scope.startsWith('@') ? `${scope}/${name}` : scope);
  }
  return packages;
}

describe('feature Workers', () => {
  it('are the Workers dev/feature-workers.ts runs, each entry point with its libraries listed here', () => {
    const entries = FEATURE_WORKERS.map((config) => {
      const main = /^main\s*=\s*"([^"]+)"/m.exec(readFileSync(config, 'utf8'))?.[1];
      if (main === undefined) throw new Error(`${config} has no main`);
      return path.relative('.', path.join(path.dirname(config), main));
    });
    expect(entries.sort()).toEqual(Object.keys(LIBRARIES).sort());
  });

  it("keep their libraries out of the API Worker's bundle, and each bundles its own", async () => {
    const api = await packagesOf('src/index.ts');
    for (const [entry, libraries] of Object.entries(LIBRARIES)) {
      const own = await packagesOf(entry);
      for (const library of libraries) {
        expect(api.has(library), `${library} is in the API Worker's bundle`).toBe(false);
        expect(own.has(library), `${library} is not in ${entry}'s bundle`).toBe(true);
      }
    }
  });

  it('are built again only when an input changed: source, Worker configs, TypeScript configs or the lockfile (not wrangler state)', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'eventra-feature-inputs-'));
    try {
      const write = async (file: string, text: string) => {
        await mkdir(path.dirname(path.join(base, file)), { recursive: true });
        await writeFile(path.join(base, file), text);
      };
      for (const file of ['src/workers/pdf.ts', 'workers/pdf/wrangler.toml', 'package-lock.json'])
        await write(file, 'a');
      for (const file of ['tsconfig.json', 'tsconfig.base.json']) await write(file, '{}');
      const first = await inputsDigest('local', base);
      expect(await inputsDigest('local', base)).toBe(first);
      expect(await inputsDigest('production', base)).not.toBe(first);
      // What a running `wrangler dev` writes beside a Worker's config is not an input.
      await write('workers/pdf/.wrangler/tmp/bundle-x/index.js', 'a');
      await write('src/.wrangler/state/v3/cache.sqlite', 'a');
      expect(await inputsDigest('local', base)).toBe(first);
      const changes: [string, string][] = [
        ['src/workers/pdf.ts', 'b'],
        ['src/lib/new-module.ts', 'x'],
        ['workers/pdf/wrangler.toml', 'b'],
        ['package-lock.json', 'b'],
        ['tsconfig.base.json', '{"x":1}'],
      ];
      const seen = new Set([first]);
      for (const [file, text] of changes) {
        await write(file, text);
        const digest = await inputsDigest('local', base);
        expect(seen.has(digest), `${file} changed and the digest did not`).toBe(false);
        seen.add(digest);
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('keep the bundles of unchanged inputs: a second call builds nothing', async () => {
    const first = await featureWorkerOptions('local');
    const written = await Promise.all(first.map(async (worker) => (await stat(worker.scriptPath)).mtimeMs));
    const second = await featureWorkerOptions('local');
    expect(second).toEqual(first);
    expect(second.map((worker) => worker.name).sort()).toEqual([
      'eventra-formats-local',
      'eventra-pdf-local',
      'eventra-saml-local',
      'eventra-webauthn-local',
    ]);
    expect(await Promise.all(second.map(async (worker) => (await stat(worker.scriptPath)).mtimeMs))).toEqual(written);
  });
});
