/**
 * Writes the OpenAPI document a Worker serves (dev/openapi.ts) to a file, or to stdout without one (or with `-`).
 *
 *   node dev/write-openapi.ts [out.json|-] [local|staging|production]    # local by default
 */
import { writeFileSync } from 'node:fs';

type Environment = 'local' | 'staging' | 'production';

// A computed specifier keeps this Node-typed script from type-checking the Worker sources under Node's types;
// dev/openapi.ts is checked with them (tsconfig.json).
const builder = new URL('./openapi.ts', import.meta.url).href;
const { openApiDocument } = (await import(builder)) as {
  openApiDocument: (environment?: Environment) => Promise<unknown>;
};
const [out, environment = 'local'] = process.argv.slice(2);
if (!['local', 'staging', 'production'].includes(environment)) {
  throw new Error(`unknown environment ${environment}: use local, staging or production`);
}
const text = `${JSON.stringify(await openApiDocument(environment as Environment), null, 2)}\n`;
if (out && out !== '-') writeFileSync(out, text);
else process.stdout.write(text);
