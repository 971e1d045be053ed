/**
 * What the bundle gets for zod's locales index (wrangler.toml `[alias]` "../locales/index.js"): English only.
 *
 * zod's classic, mini and core entries each `export * as locales from "../locales/index.js"`, and @hono/zod-openapi
 * passes `z` on as a value, so esbuild cannot drop the namespace and would bundle all ~64 locales (269 KiB raw). The
 * API speaks English and never calls `z.config(z.locales.x())`; zod installs English itself (classic/schemas.js
 * imports ../locales/en.js). This re-exports that same en.js file, so there is still one zod instance and every error
 * message stays zod's own. Only the esbuild bundle of wrangler (deploy, dev) uses the alias; Node and the vitest pool
 * load zod unchanged.
 */
export { default as en } from 'zod/v4/locales/en.js';
