/**
 * Writes the OpenAPI document the Worker serves (dev/openapi.ts) to a file, or to stdout without an argument.
 *
 *   node dev/write-openapi.ts [out.json]
 */
import { writeFileSync } from 'node:fs';

// A computed specifier keeps this Node-typed script from type-checking the Worker sources under Node's types;
// dev/openapi.ts is checked with them (tsconfig.json).
const builder = new URL('./openapi.ts', import.meta.url).href;
const { openApiDocument } = (await import(builder)) as { openApiDocument: () => Promise<unknown> };
const text = `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
const out = process.argv[2];
if (out) writeFileSync(out, text);
else process.stdout.write(text);
