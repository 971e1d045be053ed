/**
 * Type-checked with the Worker sources (tsconfig.json), whose app it imports.
 *
 * Builds the OpenAPI document a Worker serves at /api/v1/openapi.json, from the same route groups and the same builder
 * (routes/meta/openapi.ts), in Node, without a request: no database or Redis is touched. Used by
 * `npm run lint:openapi` (redocly and Spectral) and by the SDK generator.
 *
 *   node dev/write-openapi.ts [out.json] [local|staging|production]    # stdout without a file; local by default
 */
import type { Bindings } from '../src/env.ts';
import { buildOpenApiDocument, createDocumentApp, PRODUCTION_ROOT_DOMAIN } from '../src/routes/meta/openapi.ts';

/** The root domain of each deployment (wrangler.toml). */
const ROOT_DOMAINS = { local: 'localhost', staging: 'eventra-staging.app', production: PRODUCTION_ROOT_DOMAIN };

/**
 * The document as a deployment serves it: by default the local Worker's (ENVIRONMENT=local, ROOT_DOMAIN=localhost).
 * The documents differ only in their servers and the host names in the descriptions.
 */
export async function openApiDocument(
  environment: Bindings['ENVIRONMENT'] = 'local',
): Promise<Record<string, unknown>> {
  return buildOpenApiDocument(await createDocumentApp(), environment, ROOT_DOMAINS[environment]);
}
