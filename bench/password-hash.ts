/**
 * Password hashing and strength-policy cost in workerd: `node bench/password-hash.ts [runs]` (default 50).
 *
 * Bundles a tiny module Worker around src/services/auth/passwords.ts with esbuild, runs it in Miniflare (workerd,
 * `nodejs_compat`, the project's compatibility date) and times each operation as one request from Node. Inside
 * workerd the clocks do not advance during synchronous work (a Spectre mitigation), so the timing is taken outside:
 * the median of no-op requests is the overhead, subtracted from the figures reported as "net".
 * Not part of `npm test`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { percentile } from './stack.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[2] ?? 50);
if (!Number.isInteger(runs) || runs < 1) throw new Error('runs must be a positive integer');

const workerSource = `
import { assertPasswordPolicy, hashPassword, verifyPassword } from './src/services/auth/passwords.ts';
import list from './src/services/auth/data/common-passwords.json' with { type: 'json' };

// The deployed Worker reads the list from its static assets once per isolate; here the same JSON, bundled.
const runtime = {
  bindings: { ASSETS: { fetch: async () => Response.json(list) } },
  logger: { error: (message) => console.error(message) },
};

const PASSWORD = 'correct horse battery staple';
// The worst case of the strength policy: 128 random-looking characters, checked against an account's own data.
const LONG = Array.from({ length: 128 }, (_, index) => String.fromCharCode(33 + ((index * 7919) % 94))).join('');
const CONTEXT = { email: 'ada@example.com', name: 'Ada', organization: { name: 'Acme', slug: 'acme' } };

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/hash') return new Response(await hashPassword(PASSWORD));
    if (url.pathname === '/verify') {
      const check = await verifyPassword(PASSWORD, await request.text());
      return new Response(check.valid ? 'ok' : 'mismatch', { status: check.valid ? 200 : 500 });
    }
    if (url.pathname === '/policy') {
      await assertPasswordPolicy(runtime, LONG, CONTEXT);
      return new Response('ok');
    }
    return new Response('noop');
  },
};
`;

const bundle = await build({
  stdin: { contents: workerSource, resolveDir: root, sourcefile: 'password-hash-worker.js', loader: 'js' },
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  // The neutral platform reads no main fields by default; @zxcvbn-ts/core has no `exports`, only module and main.
  mainFields: ['module', 'main'],
  target: 'es2023',
  external: ['node:*'],
  write: false,
  logLevel: 'warning',
});
const script = bundle.outputFiles[0]?.text;
if (script === undefined) throw new Error('esbuild produced no output');

const wrangler = await readFile(join(root, 'wrangler.toml'), 'utf8');
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wrangler)?.[1];
if (compatibilityDate === undefined) throw new Error('no compatibility_date in wrangler.toml');

// This Miniflare takes its new options shape; the classic one-Worker options convert into it.
const miniflare = new Miniflare(
  convertV4MiniflareOptions({ modules: true, script, compatibilityDate, compatibilityFlags: ['nodejs_compat'] }),
);

async function timed(path: string, body?: string): Promise<{ ms: number; text: string }> {
  const started = performance.now();
  const response = await miniflare.dispatchFetch(`http://bench.local${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text}`);
  return { ms, text };
}

const format = (ms: number): string => `${ms.toFixed(1)} ms`;

try {
  await miniflare.ready;
  // Warm-up: first requests pay for module instantiation and the JIT.
  const { text: stored } = await timed('/hash');
  for (let index = 0; index < 3; index++) await timed('/verify', stored);

  const overhead: number[] = [];
  for (let index = 0; index < runs; index++) overhead.push((await timed('/noop')).ms);
  const hashes: number[] = [];
  for (let index = 0; index < Math.min(runs, 20); index++) hashes.push((await timed('/hash')).ms);
  await timed('/policy'); // the first check builds the estimator
  const policies: number[] = [];
  for (let index = 0; index < runs; index++) policies.push((await timed('/policy')).ms);
  const verifications: number[] = [];
  for (let index = 0; index < runs; index++) verifications.push((await timed('/verify', stored)).ms);

  const base = percentile(overhead, 50);
  const [, N, r, p] = stored.split('$');
  console.log(`scrypt N=${N} r=${r} p=${p} (${(128 * Number(N) * Number(r)) / 2 ** 20} MiB), workerd via Miniflare`);
  console.log(`request overhead (no-op)      median ${format(base)}`);
  console.log(
    `hashPassword   (${hashes.length} runs)      median ${format(percentile(hashes, 50))}, p95 ${format(percentile(hashes, 95))}` +
      ` | net median ${format(percentile(hashes, 50) - base)}`,
  );
  console.log(
    `verifyPassword (${runs} runs)      median ${format(percentile(verifications, 50))}, p95 ${format(percentile(verifications, 95))}` +
      ` | net median ${format(percentile(verifications, 50) - base)}, net p95 ${format(percentile(verifications, 95) - base)}`,
  );
  console.log(
    `password policy, 128 chars (${runs} runs) median ${format(percentile(policies, 50))}, p95 ${format(percentile(policies, 95))}` +
      ` | net median ${format(percentile(policies, 50) - base)}`,
  );
} finally {
  await miniflare.dispose();
}
