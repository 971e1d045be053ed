/**
 * /docs in a real browser: Debian's chromium (apt `chromium`, installed by .ci/run) driven by playwright-core, against
 * the Worker under `wrangler dev` (local environment, static assets and feature Workers included) on the local stack
 * (tests/e2e/stack.ts: a fresh database with one organization, the gateways). On the platform host and on that organization's host, the page must render the
 * operations from the served document, show the document's servers, and load everything from its own origin: no
 * request to any other origin, no CSP violation, no console error.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocsAssets, type DocsAssetsManifest } from '../../dev/docs-assets.ts';
import { startApi, type RunningApi } from '../e2e/stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const slug = `docs-${randomBytes(4).toString('hex')}`;

let manifest: DocsAssetsManifest;
let api: RunningApi;
let browser: Browser;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
  manifest = await buildDocsAssets();

  // The Worker under `wrangler dev` with its feature Workers, on a fresh database (the e2e tests' stack).
  api = await startApi();
  cleanups.push(() => api.close());
  const client = new pg.Client({ connectionString: api.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `insert into organizations (id, slug, name, plan) values (gen_random_uuid(), $1, 'Docs Browser Test', 'starter')
       returning id`,
      [slug],
    );
    await client.query('insert into tenant_directory (organization_id) values ($1)', [rows[0]?.id]);
  } finally {
    await client.end();
  }
  // The first request starts the isolate; the pages below then measure Scalar, not the Worker's start.
  expect((await fetch(`http://127.0.0.1:${api.port}/docs`)).status).toBe(200);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
  cleanups.push(() => browser.close());
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

interface Visit {
  page: Page;
  requests: string[];
  problems: string[];
  headers: Record<string, string>;
  /** Requests started and not yet finished or failed, and when the last one started or ended. */
  network: { inFlight: number; lastChange: number };
}

/** Opens /docs on `origin` and records every request and every console error, page error and CSP violation. */
async function openDocs(origin: string): Promise<Visit> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  const network = { inFlight: 0, lastChange: Date.now() };
  const settle = (delta: number) => () => {
    network.inFlight += delta;
    network.lastChange = Date.now();
  };
  page.on('request', (request) => {
    requests.push(request.url().split('#')[0] ?? '');
    settle(1)();
  });
  page.on('requestfinished', settle(-1));
  page.on('requestfailed', (request) => {
    settle(-1)();
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.exposeFunction('reportCspViolation', (violation: string) => problems.push(`CSP violation: ${violation}`));
  // Runs in the page (a string: this file is type-checked without the DOM library).
  await page.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => reportCspViolation(e.effectiveDirective + ' blocked ' + e.blockedURI + ' in ' + e.sourceFile));",
  );
  // Generous timeouts: Scalar parses and renders the whole document (a few seconds alone, far longer on a busy CI).
  page.setDefaultTimeout(90_000);
  const response = await page.goto(`${origin}/docs#tag/events`, { waitUntil: 'commit' });
  expect(response?.status()).toBe(200);
  return { page, requests, problems, headers: (await response?.allHeaders()) ?? {}, network };
}

/**
 * Scalar lists the tags in its sidebar, and the tag named in the URL fragment (#tag/events) open with its operations
 * by summary. Rendering the whole document takes Scalar a few seconds (much longer on a busy machine).
 */
async function expectOperations(page: Page): Promise<void> {
  const sidebar = page.locator('.t-doc__sidebar');
  await sidebar.getByText('Create an event', { exact: true }).first().waitFor();
  for (const text of ['Events', 'Bookings', 'Create an event', 'Publish an event']) {
    expect(await sidebar.getByText(text, { exact: true }).first().isVisible(), text).toBe(true);
  }
  // The tag's first operation rendered as a section of the page body.
  await expect
    .poll(() => page.getByRole('heading', { name: 'List events' }).first().isVisible(), { timeout: 30_000 })
    .toBe(true);
}

/**
 * The server selector shows the first server of the document this page was served (fetched in the page, so with the
 * page's own host and port): Scalar uses the document's servers, not a list of its own.
 */
async function expectDocumentServer(page: Page): Promise<void> {
  const firstServer = await page.evaluate<string>(
    "fetch('/api/v1/openapi.json').then((response) => response.json()).then((document) => document.servers[0].url)",
  );
  expect(firstServer).not.toBe('');
  await expect.poll(() => page.getByText(firstServer).first().isVisible(), { timeout: 30_000 }).toBe(true);
}

async function expectSameOrigin(visit: Visit, origin: string): Promise<void> {
  const asset = `${origin}${manifest.scalar.path}`;
  expect(visit.requests).toContain(`${origin}/docs`);
  expect(visit.requests).toContain(asset);
  expect(visit.requests).toContain(`${origin}/api/v1/openapi.json`);
  // Let late work (fonts, images, lazy chunks) surface before judging: no request in flight for a second.
  await expect
    .poll(() => visit.network.inFlight === 0 && Date.now() - visit.network.lastChange > 1_000, { timeout: 30_000 })
    .toBe(true);
  // The one violation the policy is meant to cause: the zod copy inside Scalar's bundle probes whether it may compile
  // validators (`try { new Function('') } catch { ... }`) and, refused, falls back to interpreting them. Allowing it
  // would take 'unsafe-eval'; any other violation, or this one from anywhere else, fails.
  const zodEvalProbe = `CSP violation: script-src blocked eval in ${asset}`;
  const problems = visit.problems.filter((problem) => problem !== zodEvalProbe);
  const foreign = visit.requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
  expect(foreign).toEqual([]);
  expect(problems).toEqual([]);
}

function expectStrictCsp(headers: Record<string, string>): void {
  const csp = headers['content-security-policy'] ?? '';
  const directives = new Map(
    csp.split(';').map((directive) => {
      const [name = '', ...sources] = directive.trim().split(/\s+/);
      return [name, sources] as const;
    }),
  );
  expect(directives.get('default-src')).toEqual(["'none'"]);
  expect(directives.get('script-src')).toEqual(["'self'"]);
  expect(directives.get('connect-src')).toEqual(["'self'"]);
  // No origin anywhere: only keywords and data: for fonts and images.
  for (const [name, sources] of directives) {
    for (const source of sources) expect([`'self'`, `'none'`, `'unsafe-inline'`, 'data:'], name).toContain(source);
  }
  expect(headers['cache-control']).toBe('no-cache');
}

describe('/docs in chromium', () => {
  it.each([
    ['the platform host', () => `http://localhost:${api.port}`],
    ['an organization host (the bundle coming from that host)', () => `http://${slug}.localhost:${api.port}`],
  ])('renders the operations on %s, loading only its own origin', async (_host, originOf) => {
    const origin = originOf();
    const visit = await openDocs(origin);
    expectStrictCsp(visit.headers);
    await expectOperations(visit.page);
    await expectDocumentServer(visit.page);
    await expectSameOrigin(visit, origin);
    await visit.page.close();
  });

  it('serves the bundle as a static asset: JavaScript, cached for a year, on every host', async () => {
    for (const host of ['localhost', `${slug}.localhost`]) {
      const response = await fetch(`http://127.0.0.1:${api.port}${manifest.scalar.path}`, {
        headers: { host: `${host}:${api.port}`, 'accept-encoding': 'identity' },
      });
      expect(response.status, host).toBe(200);
      expect(response.headers.get('content-type'), host).toMatch(/^text\/javascript/);
      expect(response.headers.get('cache-control'), host).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('x-content-type-options'), host).toBe('nosniff');
      expect(response.headers.get('etag'), host).toBeTruthy();
      expect((await response.arrayBuffer()).byteLength, host).toBe(manifest.scalar.bytes);
    }
    // An unknown file under /docs/assets is not an asset: the Worker answers its problem+json 404.
    const missing = await fetch(`http://127.0.0.1:${api.port}/docs/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
