import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { OPENAPI_PATH } from './openapi.ts';

/**
 * An upper bound of the page's length: the fixed markup and configuration (under 1 KiB) with the manifest's path and
 * integrity, which the manifest schema bounds at 200 and 100 characters (escaped at most 6 times longer).
 */
export const MAX_PAGE_LENGTH = 4096;

export const route = createRoute({
  method: 'get',
  path: '/docs',
  operationId: 'getApiReference',
  tags: ['Meta'],
  summary: 'Interactive API reference',
  description: 'An interactive reference (Scalar) rendered from the OpenAPI document.',
  responses: {
    200: {
      description: 'The HTML reference page.',
      content: { 'text/html': { schema: z.string().max(MAX_PAGE_LENGTH) } },
    },
  },
});

/** build/assets/docs/assets.json, written by dev/docs-assets.ts next to the bundle it names. */
const ManifestSchema = z.object({
  scalar: z.object({
    path: z
      .string()
      .max(200)
      .regex(/^\/docs\/assets\/[\w.-]+\.js$/),
    integrity: z
      .string()
      .max(100)
      .regex(/^sha384-[A-Za-z0-9+/]+=*$/),
  }),
});
type Manifest = z.infer<typeof ManifestSchema>;

/**
 * The page loads nothing but its own origin: Scalar's bundle (a static asset, see wrangler.toml) and the document.
 * Scalar is configured from a data attribute, so there is no inline script; it injects its stylesheets as <style>
 * elements without a nonce, hence 'unsafe-inline' for styles only.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Scalar's options (https://github.com/scalar/scalar, packages/api-reference): the document's own servers, nothing
 * fetched from Scalar's services (fonts, telemetry, the share/upload toolbar, the AI agent, the request proxy).
 */
const SCALAR_CONFIGURATION = {
  url: OPENAPI_PATH,
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  documentDownloadType: 'json',
};

// The manifest is part of the deployed assets, so it is read once per isolate (a failed read is retried).
let manifest: Promise<Manifest> | undefined;

async function readManifest(assets: Fetcher): Promise<Manifest> {
  const response = await assets.fetch('https://assets.invalid/docs/assets.json');
  if (!response.ok) throw new Error(`docs/assets.json answered ${response.status}`);
  return ManifestSchema.parse(await response.json());
}

async function scalarAsset(c: Context<AppEnv>): Promise<Manifest['scalar']> {
  const assets = c.var.bindings.ASSETS;
  if (!assets) throw new ApiError('misconfigured', { detail: 'The API reference is not deployed with its assets.' });
  manifest ??= readManifest(assets);
  try {
    return (await manifest).scalar;
  } catch (error) {
    manifest = undefined;
    c.var.logger.error('docs assets unreadable (run `node dev/docs-assets.ts` before deploying)', {
      error: String(error),
    });
    throw new ApiError('misconfigured', { detail: 'The API reference is not deployed with its assets.' });
  }
}

const escapeAttribute = (value: string): string =>
  value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function page(scalar: Manifest['scalar']): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Eventra API reference</title>
    <link rel="icon" href="data:," />
  </head>
  <body>
    <script id="api-reference" type="application/json" data-configuration="${escapeAttribute(JSON.stringify(SCALAR_CONFIGURATION))}"></script>
    <script src="${escapeAttribute(scalar.path)}" integrity="${escapeAttribute(scalar.integrity)}"></script>
  </body>
</html>
`;
}

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const scalar = await scalarAsset(c);
    c.header('content-security-policy', DOCS_CSP);
    // The page names the bundle of this deployment, which a later deployment replaces: always revalidate.
    c.header('cache-control', 'no-cache');
    return c.html(page(scalar), 200);
  });
}
