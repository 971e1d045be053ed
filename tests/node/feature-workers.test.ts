import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEATURE_WORKERS } from '../../dev/feature-workers.ts';
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
});
