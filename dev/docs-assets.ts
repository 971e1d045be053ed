/**
 * Builds the Worker's static assets directory (build/assets, gitignored): Scalar's standalone bundle from
 * node_modules, the one script the /docs page loads, pinned by package-lock.json, and the password policy's
 * common-password list. Nothing here is committed; every path that starts the Worker runs this first: `npm ci`
 * (prepare), `npm test` (pretest), `npm run dev` (dev/run.ts), `npm run build` / `deploy:*`, and the browser test.
 *
 *   build/assets/docs/assets/scalar-<version>-<hash>.js   the bundle, named by its content: cached for a year
 *   build/assets/docs/assets.json                         which file that is, and its SRI hash (read by /docs)
 *   build/assets/docs/schema.graphql                      the GraphQL SDL (a copy of schema.graphql), linked from /docs
 *   build/assets/_headers                                 long cache and nosniff for /docs/assets/*
 *   build/assets/_internal/common-passwords.json          a copy of src/services/auth/data/common-passwords.json,
 *                                                         read through the ASSETS binding only (wrangler.toml
 *                                                         run_worker_first keeps /_internal/* for the Worker)
 *
 *   node dev/docs-assets.ts
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** wrangler.toml `[assets] directory`. */
export const ASSETS_DIRECTORY = path.join(root, 'build', 'assets');

/** The common-password list (dev/generate-common-passwords.ts) and where the Worker reads it (COMMON_PASSWORDS_ASSET). */
const COMMON_PASSWORDS_SOURCE = path.join(root, 'src', 'services', 'auth', 'data', 'common-passwords.json');
const COMMON_PASSWORDS_TARGET = path.join('_internal', 'common-passwords.json');

/** The committed GraphQL SDL (npm run graphql:generate), served as /docs/schema.graphql. */
const GRAPHQL_SCHEMA_SOURCE = path.join(root, 'schema.graphql');
const GRAPHQL_SCHEMA_TARGET = path.join('docs', 'schema.graphql');

/** The manifest /docs reads through the ASSETS binding (src/routes/meta/docs.ts). */
export interface DocsAssetsManifest {
  scalar: { path: string; integrity: string; version: string; bytes: number };
}

export async function buildDocsAssets(directory = ASSETS_DIRECTORY): Promise<DocsAssetsManifest> {
  const packageDirectory = path.join(root, 'node_modules', '@scalar', 'api-reference');
  const { version } = JSON.parse(await readFile(path.join(packageDirectory, 'package.json'), 'utf8')) as {
    version: string;
  };
  const bundle = await readFile(path.join(packageDirectory, 'dist', 'browser', 'standalone.js'));
  const hash = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
  const file = `scalar-${version}-${hash}.js`;
  const manifest: DocsAssetsManifest = {
    scalar: {
      path: `/docs/assets/${file}`,
      integrity: `sha384-${createHash('sha384').update(bundle).digest('base64')}`,
      version,
      bytes: bundle.length,
    },
  };

  // Left alone when already current (a running `wrangler dev` keeps serving it); otherwise written fresh, so an
  // upgraded bundle never leaves the old one behind in a deploy.
  const manifestText = JSON.stringify(manifest, null, 2) + '\n';
  const commonPasswords = await readFile(COMMON_PASSWORDS_SOURCE);
  const current = await readFile(path.join(directory, 'docs', 'assets.json'), 'utf8').catch(() => null);
  const written = await stat(path.join(directory, 'docs', 'assets', file)).catch(() => null);
  const writtenList = await readFile(path.join(directory, COMMON_PASSWORDS_TARGET)).catch(() => null);
  const graphqlSchema = await readFile(GRAPHQL_SCHEMA_SOURCE);
  const writtenSchema = await readFile(path.join(directory, GRAPHQL_SCHEMA_TARGET)).catch(() => null);
  if (
    current === manifestText &&
    written?.size === bundle.length &&
    writtenList?.equals(commonPasswords) &&
    writtenSchema?.equals(graphqlSchema)
  )
    return manifest;
  await rm(directory, { recursive: true, force: true });
  await mkdir(path.join(directory, 'docs', 'assets'), { recursive: true });
  await mkdir(path.join(directory, path.dirname(COMMON_PASSWORDS_TARGET)), { recursive: true });
  await writeFile(path.join(directory, COMMON_PASSWORDS_TARGET), commonPasswords);
  await writeFile(path.join(directory, 'docs', 'assets', file), bundle);
  await writeFile(path.join(directory, 'docs', 'assets.json'), manifestText);
  await writeFile(path.join(directory, GRAPHQL_SCHEMA_TARGET), graphqlSchema);
  // Workers static assets apply these rules to the files they serve (the Worker never sees those requests). The
  // bundle's name changes with its content, so it can be cached for a year; the manifest keeps the default
  // (revalidate every time).
  await writeFile(
    path.join(directory, '_headers'),
    [
      '/docs/assets/*',
      '  Cache-Control: public, max-age=31536000, immutable',
      '  X-Content-Type-Options: nosniff',
      '  Cross-Origin-Resource-Policy: same-origin',
      '/docs/assets.json',
      '  X-Content-Type-Options: nosniff',
      '/docs/schema.graphql',
      '  Content-Type: text/plain; charset=utf-8',
      '  X-Content-Type-Options: nosniff',
      '',
    ].join('\n'),
  );
  return manifest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const manifest = await buildDocsAssets();
  console.log(
    `docs assets: ${path.relative(root, ASSETS_DIRECTORY)}${manifest.scalar.path} ` +
      `(@scalar/api-reference ${manifest.scalar.version}, ${manifest.scalar.bytes} bytes)`,
  );
}
