/**
 * Worker bundle size and start-up cost, of the API Worker and of the public Worker: `npm run bench:bundle -- [--runs 10]`.
 *
 * Builds the production bundle exactly like `npm run build` (wrangler deploy --dry-run --env production) into a
 * temporary directory, with an esbuild metafile. Reports the bundle raw and gzip (node:zlib level 9) next to what
 * wrangler prints as "Total Upload", the ten npm packages that contribute most bytes, and the cold start in workerd:
 * fresh Miniflare instances of the bundle and of a trivial Worker (the floor), alternated, each timed from
 * `new Miniflare()` to `ready` and to its first response. workerd evaluates the module while it starts, so module
 * evaluation lands before `ready`; the route groups are built on their first request, so the first response of a
 * route carries its group's cost. Two first responses are measured, each on its own fresh instance: `GET /health`
 * (the health group, no I/O) and `GET /api/v1/public/events` on the platform host (every middleware, then the public
 * group is built and its `tenantOnly` guard answers 404: the cold path of a real API route without any I/O; on an
 * organization host the tenant lookup would need a database first). Wall times on a loaded machine mostly measure
 * the load, so the same three are also run as fresh Node processes (the same V8) and their CPU time
 * (process.cpuUsage) measured: importing the bundle (compilation and module evaluation) and answering the first
 * request; where valgrind is installed, the same processes' instruction counts (callgrind), which barely move with
 * the machine's load. Writes bench/results/bundle.json. Not part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { buildWorker, FEATURE_WORKERS, PUBLIC_WORKER, WRANGLER } from '../dev/feature-workers.ts';
import { FAKE_VARS, RESOURCE_BINDINGS } from './worker-bindings.ts';
import { callgrind, compatibility, median, workerdConfig, workerdInstructions, workerdLoad } from './workerd-load.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

/**
 * One fresh Node process: `node cpu-probe.mjs <bundle> <url> <bindings JSON>` prints the CPU time (user + system) of
 * importing the bundle and of its first response to `url`, and the status.
 */
const CPU_PROBE = `
import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
// The bundle's Durable Object class extends workerd's DurableObject (cloudflare:workers), which Node cannot load: a
// bare base class stands in (the probe never runs the Object).
const base = 'export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }';
registerHooks({
  resolve: (specifier, context, next) =>
    specifier === 'cloudflare:workers'
      ? { url: 'data:text/javascript,' + encodeURIComponent(base), shortCircuit: true }
      : next(specifier, context),
});
const [bundle, url, bindingsJson] = process.argv.slice(2);
const queue = { send: async () => {}, sendBatch: async () => {} };
const env = {
  ...JSON.parse(bindingsJson),
  EMAIL_QUEUE: queue,
  WEBHOOK_QUEUE: queue,
  AUDIT_QUEUE: queue,
  EXPORT_QUEUE: queue,
  EVENT_LIVE: { idFromName() {} },
  API: { fetch: async () => new Response('stand-in') },
  FILES: { put: async () => null, get: async () => null },
  PDF_RENDERER: { render: async () => new Uint8Array() },
  SAML_XML: { verifyResponse: async () => ({ ok: false, refusal: { code: 'saml_unsigned', message: 'stand-in' } }) },
  WEBAUTHN: { verifyAuthentication: async () => ({ ok: false, refusal: 'stand-in' }) },
  FORMATS: { expandRule: async () => ({ ok: true, value: [] }) },
};
const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };
const cpu = () => { const usage = process.cpuUsage(); return (usage.user + usage.system) / 1000; };
const started = cpu();
const worker = await import(pathToFileURL(bundle).href);
const imported = cpu();
const response = await worker.default.fetch(new Request(url), env, ctx);
await response.text();
const answered = cpu();
process.stdout.write(JSON.stringify({ importCpuMs: imported - started, firstResponseCpuMs: answered - imported, status: response.status }) + '\\n');
`;

const work = await mkdtemp(join(tmpdir(), 'eventra-bundle-'));
const outdir = join(work, 'dist');
const metafile = join(work, 'meta.json');

try {
  // 1. Build (same command as the `build` script, plus the metafile).
  const wrangler = spawnSync(
    process.execPath,
    [WRANGLER, 'deploy', '--dry-run', '--env', 'production', '--outdir', outdir, '--metafile', metafile],
    { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
  );
  // eslint-disable-next-line no-control-regex -- strips ANSI colour codes from wrangler's output
  const output = `${wrangler.stdout}\n${wrangler.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  if (wrangler.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${output}`);
  const upload = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);

  // 2. Size.
  const bundlePath = join(outdir, 'index.js');
  const bundle = await readFile(bundlePath);
  const gzipBytes = gzipSync(bundle, { level: 9 }).length;

  // 2b. The feature Workers behind the API Worker's service bindings (dev/feature-workers.ts): built the same way,
  // their sizes reported beside the API Worker's (each is compiled only where and when it is first called).
  const features = [];
  for (const config of FEATURE_WORKERS) {
    const { scriptPath } = await buildWorker(config, 'production', join(work, 'features', config.replaceAll('/', '_')));
    const code = await readFile(scriptPath);
    features.push({ config, rawBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length });
  }

  // 2c. The public Worker (src/public.ts): the buyer's routes in a bundle of their own, in front of the API Worker
  // on `/api/v1/public/*`; its size and start-up are measured beside the API Worker's.
  const publicBuild = await buildWorker(PUBLIC_WORKER, 'production', join(work, 'public'));
  const publicCode = await readFile(publicBuild.scriptPath);
  const publicBundle = { rawBytes: publicCode.length, gzipBytes: gzipSync(publicCode, { level: 9 }).length };

  // 3. Contributors: esbuild's bytesInOutput per input, summed per npm package (the innermost node_modules/ wins).
  const meta = JSON.parse(await readFile(metafile, 'utf8')) as {
    outputs: Record<string, { entryPoint?: string; inputs: Record<string, { bytesInOutput: number }> }>;
  };
  const perPackage = new Map<string, number>();
  let appBytes = 0;
  let otherBytes = 0;
  for (const [name, out] of Object.entries(meta.outputs)) {
    if (name.endsWith('.map')) continue;
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const at = input.lastIndexOf('node_modules/');
      if (at === -1) {
        if (input.startsWith('src/')) appBytes += bytesInOutput;
        else otherBytes += bytesInOutput;
        continue;
      }
      const parts = input.slice(at + 'node_modules/'.length).split('/');
      const pkg = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? input);
      perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  const packagesTotal = [...perPackage.values()].reduce((a, b) => a + b, 0);
  const contributors = [...perPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([name, bytes]) => ({ package: name, bytes }));

  // 4. Start-up: fresh Miniflare instances, the bundle vs a trivial Worker with the same bindings.
  const compat = await compatibility(root);
  const { date: compatibilityDate, flags: compatibilityFlags } = compat;
  const floorDir = join(work, 'floor');
  await mkdir(floorDir);
  await writeFile(join(floorDir, 'index.js'), "export default { fetch: () => new Response('ok') };\n");
  // The service bindings' target in the start-up runs (PDF_RENDERER, SAML_XML, WEBAUTHN, FORMATS, and the public
  // Worker's API and EventLive class): a stand-in, so that only the measured Worker's own start is measured (in
  // production each feature Worker starts where and when it is called, and the API Worker where a request needs it).
  const standInPath = join(work, 'stand-in', 'index.js');
  await mkdir(dirname(standInPath));
  await writeFile(
    standInPath,
    "import { DurableObject, WorkerEntrypoint } from 'cloudflare:workers';\n" +
      'export class EventLive extends DurableObject {}\n' +
      'export default class extends WorkerEntrypoint { render() { return new Uint8Array(); } };\n',
  );

  const bindings = FAKE_VARS;

  interface Sample {
    readyMs: number;
    firstResponseMs: number;
  }
  /** The first request of a fresh instance: the URL and the statuses it may answer. */
  interface FirstRequest {
    url: string;
    statuses: readonly number[];
  }
  const HEALTH: FirstRequest = { url: 'http://eventra.app/health', statuses: [200] };
  // The public routes answer 404 on the platform host (their tenantOnly guard), after the group is built.
  const API_ROUTE: FirstRequest = { url: 'http://eventra.app/api/v1/public/events', statuses: [404] };

  /** A fresh instance of the API Worker's bundle, the public Worker's or the trivial Worker (which binds nothing). */
  async function start(scriptPath: string, first: FirstRequest): Promise<Sample> {
    const isPublic = scriptPath === publicBuild.scriptPath;
    const began = performance.now();
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [
          {
            name: 'measured',
            modules: true,
            scriptPath,
            modulesRoot: dirname(scriptPath),
            compatibilityDate,
            compatibilityFlags,
            bindings,
            ...RESOURCE_BINDINGS,
            ...(isPublic ? { durableObjects: { EVENT_LIVE: { className: 'EventLive', scriptName: 'stand-in' } } } : {}),
            serviceBindings: {
              PDF_RENDERER: 'stand-in',
              SAML_XML: 'stand-in',
              WEBAUTHN: 'stand-in',
              FORMATS: 'stand-in',
              ...(isPublic ? { API: 'stand-in' } : {}),
            },
          },
          {
            name: 'stand-in',
            modules: true,
            // The class the public Worker binds by script name (defining it here makes workerd accept the binding).
            durableObjects: { EVENT_LIVE: 'EventLive' },
            scriptPath: standInPath,
            modulesRoot: dirname(standInPath),
            compatibilityDate,
            compatibilityFlags,
          },
        ],
        // The API route's expected "database unavailable" error log would repeat on every run.
        handleStructuredLogs: () => undefined,
      }),
    );
    try {
      await mf.ready;
      const ready = performance.now();
      const response = await mf.dispatchFetch(first.url);
      const body = await response.text();
      const answered = performance.now();
      if (!first.statuses.includes(response.status)) {
        throw new Error(`GET ${first.url} answered ${response.status}: ${body}`);
      }
      return { readyMs: ready - began, firstResponseMs: answered - began };
    } finally {
      await mf.dispose();
    }
  }

  const workerPath = bundlePath;
  const publicPath = publicBuild.scriptPath;
  const floorPath = join(floorDir, 'index.js');
  // One discarded warm-up of each (Node's own JIT and file cache), then alternate so drift hits all alike.
  await start(workerPath, HEALTH);
  await start(workerPath, API_ROUTE);
  await start(publicPath, API_ROUTE);
  await start(floorPath, HEALTH);
  const worker: Sample[] = [];
  const workerApi: Sample[] = [];
  const publicWorker: Sample[] = [];
  const publicApi: Sample[] = [];
  const floor: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    worker.push(await start(workerPath, HEALTH));
    floor.push(await start(floorPath, HEALTH));
    workerApi.push(await start(workerPath, API_ROUTE));
    publicWorker.push(await start(publicPath, HEALTH));
    publicApi.push(await start(publicPath, API_ROUTE));
  }

  // 5. CPU time in fresh Node processes (V8, as in workerd): importing the bundle, then its first response.
  const probePath = join(work, 'cpu-probe.mjs');
  await writeFile(probePath, CPU_PROBE);
  interface CpuSample {
    importCpuMs: number;
    firstResponseCpuMs: number;
  }
  function cpuSample(scriptPath: string, first: FirstRequest): CpuSample {
    const probe = spawnSync(process.execPath, [probePath, scriptPath, first.url, JSON.stringify(bindings)], {
      encoding: 'utf8',
    });
    const sample = JSON.parse(probe.stdout.trim().split('\n').at(-1) ?? '{}') as CpuSample & { status?: number };
    if (probe.status !== 0 || sample.status === undefined || !first.statuses.includes(sample.status)) {
      throw new Error(`the CPU probe of ${first.url} failed (${sample.status ?? probe.status}): ${probe.stderr}`);
    }
    return { importCpuMs: sample.importCpuMs, firstResponseCpuMs: sample.firstResponseCpuMs };
  }
  const cpu = {
    worker: [] as CpuSample[],
    workerApi: [] as CpuSample[],
    publicWorker: [] as CpuSample[],
    publicApi: [] as CpuSample[],
    floor: [] as CpuSample[],
  };
  for (let i = 0; i < runs; i++) {
    cpu.worker.push(cpuSample(workerPath, HEALTH));
    cpu.floor.push(cpuSample(floorPath, HEALTH));
    cpu.workerApi.push(cpuSample(workerPath, API_ROUTE));
    cpu.publicWorker.push(cpuSample(publicPath, HEALTH));
    cpu.publicApi.push(cpuSample(publicPath, API_ROUTE));
  }

  // 6. Instructions (valgrind's callgrind, when installed): the same probe, once each. Unlike times, an instruction
  // count hardly moves with the machine's load (the same bundle counts within 1% run to run), so it is the figure
  // to compare start-up across commits on a shared machine. The whole process is counted (Node's own start-up too),
  // which the trivial Worker's count takes back out.
  function instructions(scriptPath: string, first: FirstRequest): number | null {
    return callgrind(
      [process.execPath, '--single-threaded', probePath, scriptPath, first.url, JSON.stringify(bindings)],
      (run) => run.status === 0,
      `the probe of ${first.url}`,
    );
  }
  const counted = {
    worker: instructions(workerPath, HEALTH),
    workerApiRoute: instructions(workerPath, API_ROUTE),
    publicWorker: instructions(publicPath, HEALTH),
    publicApiRoute: instructions(publicPath, API_ROUTE),
    floor: instructions(floorPath, HEALTH),
  };
  const instructionCounts =
    counted.worker === null ||
    counted.workerApiRoute === null ||
    counted.publicWorker === null ||
    counted.publicApiRoute === null ||
    counted.floor === null
      ? null
      : {
          worker: counted.worker,
          workerApiRoute: counted.workerApiRoute,
          publicWorker: counted.publicWorker,
          publicApiRoute: counted.publicApiRoute,
          floor: counted.floor,
          workerOverFloor: counted.worker - counted.floor,
          workerApiRouteOverFloor: counted.workerApiRoute - counted.floor,
          publicWorkerOverFloor: counted.publicWorker - counted.floor,
          publicApiRouteOverFloor: counted.publicApiRoute - counted.floor,
        };

  // 7. workerd's own start-up, without Miniflare (bench/workerd-load.ts): Miniflare's start above adds its own work
  // per instance (options, the loopback server, bindings' plumbing).
  const workerdConfigFor = (name: string, scriptPath: string) =>
    workerdConfig(join(work, 'workerd', name), scriptPath, compat);
  const workerdConfigs = {
    worker: await workerdConfigFor('api', workerPath),
    publicWorker: await workerdConfigFor('public', publicPath),
    floor: await workerdConfigFor('floor', floorPath),
  };
  const loads = { worker: [] as number[], publicWorker: [] as number[], floor: [] as number[] };
  for (let i = 0; i < runs; i++) {
    for (const key of ['worker', 'publicWorker', 'floor'] as const) loads[key].push(workerdLoad(workerdConfigs[key]));
  }
  const workerdStart = Object.fromEntries(
    (['worker', 'publicWorker', 'floor'] as const).map((key) => [
      key,
      { medianMs: round(median(loads[key])), instructions: workerdInstructions(workerdConfigs[key]) },
    ]),
  ) as Record<'worker' | 'publicWorker' | 'floor', { medianMs: number; instructions: number | null }>;
  const summary = (samples: Sample[]) => ({
    medianReadyMs: round(median(samples.map((s) => s.readyMs))),
    medianFirstResponseMs: round(median(samples.map((s) => s.firstResponseMs))),
    minFirstResponseMs: round(Math.min(...samples.map((s) => s.firstResponseMs))),
    maxFirstResponseMs: round(Math.max(...samples.map((s) => s.firstResponseMs))),
    samples: samples.map((s) => ({ readyMs: round(s.readyMs), firstResponseMs: round(s.firstResponseMs) })),
  });
  const workerSummary = summary(worker);
  const workerApiSummary = summary(workerApi);
  const publicSummary = summary(publicWorker);
  const publicApiSummary = summary(publicApi);
  const floorSummary = summary(floor);
  // Start-up over the trivial Worker: to ready (module evaluation), to the first /health (module evaluation and the
  // health group: the figure this benchmark has always reported as the module-evaluation cost), and to the first
  // response of the API route (module evaluation, the middleware and the public group, built on that request).
  const readyOverFloorMs = round(workerSummary.medianReadyMs - floorSummary.medianReadyMs);
  const moduleEvaluationMs = round(workerSummary.medianFirstResponseMs - floorSummary.medianFirstResponseMs);
  const firstApiResponseOverFloorMs = round(
    workerApiSummary.medianFirstResponseMs - floorSummary.medianFirstResponseMs,
  );
  const floorStartMs = floorSummary.medianFirstResponseMs;
  // The same two for the public Worker.
  const publicModuleEvaluationMs = round(publicSummary.medianFirstResponseMs - floorStartMs);
  const publicFirstApiResponseOverFloorMs = round(publicApiSummary.medianFirstResponseMs - floorStartMs);
  const cpuSummary = (samples: CpuSample[]) => ({
    medianImportCpuMs: round(median(samples.map((s) => s.importCpuMs))),
    medianFirstResponseCpuMs: round(median(samples.map((s) => s.firstResponseCpuMs))),
    medianTotalCpuMs: round(median(samples.map((s) => s.importCpuMs + s.firstResponseCpuMs))),
  });
  const cpuTimes = {
    worker: cpuSummary(cpu.worker),
    workerApiRoute: cpuSummary(cpu.workerApi),
    publicWorker: cpuSummary(cpu.publicWorker),
    publicApiRoute: cpuSummary(cpu.publicApi),
    floor: cpuSummary(cpu.floor),
  };

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    compatibilityDate,
    compatibilityFlags,
    bundle: {
      rawBytes: bundle.length,
      gzipBytes,
      wranglerTotalUploadKiB: upload ? Number(upload[1]) : null,
      wranglerGzipKiB: upload ? Number(upload[2]) : null,
    },
    featureWorkers: features,
    publicWorker: publicBundle,
    contributors: { top: contributors, packagesBytes: packagesTotal, appSrcBytes: appBytes, otherBytes },
    startup: {
      runs,
      worker: workerSummary,
      workerApiRoute: { url: API_ROUTE.url, ...workerApiSummary },
      publicWorker: publicSummary,
      publicApiRoute: { url: API_ROUTE.url, ...publicApiSummary },
      floor: floorSummary,
      moduleEvaluationMs,
      readyOverFloorMs,
      firstApiResponseOverFloorMs,
      moduleEvaluationOverFloorStart: round(moduleEvaluationMs / floorStartMs, 100),
      publicModuleEvaluationMs,
      publicFirstApiResponseOverFloorMs,
      publicModuleEvaluationOverFloorStart: round(publicModuleEvaluationMs / floorStartMs, 100),
      line: '',
      cpu: cpuTimes,
      instructions: instructionCounts,
      workerd: workerdStart,
    },
  };

  result.startup.line = coldStartLine(result.startup);

  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const millions = (count: number) => `${(count / 1e6).toFixed(0)} M`;
  const pct = (bytes: number) => `${((bytes / bundle.length) * 100).toFixed(1)}%`;
  console.log('\nWorker bundle (production)');
  console.table({
    'bundle (index.js)': { raw: kib(bundle.length), gzip: kib(gzipBytes) },
    'wrangler Total Upload': {
      raw: upload ? `${upload[1] ?? ''} KiB` : 'n/a',
      gzip: upload ? `${upload[2] ?? ''} KiB` : 'n/a',
    },
    'public Worker (public.js)': { raw: kib(publicBundle.rawBytes), gzip: kib(publicBundle.gzipBytes) },
  });
  console.log('Feature Workers behind service bindings (production builds, not part of the API Worker)');
  console.table(Object.fromEntries(features.map((f) => [f.config, { raw: kib(f.rawBytes), gzip: kib(f.gzipBytes) }])));
  console.log('Biggest contributors (esbuild bytesInOutput, minified size in the bundle)');
  console.table(
    Object.fromEntries([
      ...contributors.map((c) => [c.package, { size: kib(c.bytes), share: pct(c.bytes) }]),
      ['(all npm packages)', { size: kib(packagesTotal), share: pct(packagesTotal) }],
      ['(src/, Eventra itself)', { size: kib(appBytes), share: pct(appBytes) }],
    ]),
  );
  console.log(`Start-up in workerd (Miniflare), ${runs} fresh instances each, medians`);
  console.table({
    'Eventra Worker': {
      'new -> ready (ms)': workerSummary.medianReadyMs,
      'new -> first response (ms)': workerSummary.medianFirstResponseMs,
      'first request': 'GET /health',
    },
    'Eventra Worker, API route': {
      'new -> ready (ms)': workerApiSummary.medianReadyMs,
      'new -> first response (ms)': workerApiSummary.medianFirstResponseMs,
      'first request': 'GET /api/v1/public/events (platform host)',
    },
    'public Worker': {
      'new -> ready (ms)': publicSummary.medianReadyMs,
      'new -> first response (ms)': publicSummary.medianFirstResponseMs,
      'first request': 'GET /health',
    },
    'public Worker, API route': {
      'new -> ready (ms)': publicApiSummary.medianReadyMs,
      'new -> first response (ms)': publicApiSummary.medianFirstResponseMs,
      'first request': 'GET /api/v1/public/events (platform host)',
    },
    'trivial Worker (floor)': {
      'new -> ready (ms)': floorSummary.medianReadyMs,
      'new -> first response (ms)': floorSummary.medianFirstResponseMs,
      'first request': 'GET /health',
    },
  });
  console.log(`CPU time in fresh Node processes (process.cpuUsage, ${runs} each, medians; the same V8, not workerd)`);
  const cpuRow = (summary: ReturnType<typeof cpuSummary>, first: string) => ({
    'import (ms)': summary.medianImportCpuMs,
    'first response (ms)': summary.medianFirstResponseCpuMs,
    'total (ms)': summary.medianTotalCpuMs,
    'first request': first,
  });
  console.table({
    'Eventra Worker': cpuRow(cpuTimes.worker, 'GET /health'),
    'Eventra Worker, API route': cpuRow(cpuTimes.workerApiRoute, 'GET /api/v1/public/events (platform host)'),
    'public Worker': cpuRow(cpuTimes.publicWorker, 'GET /health'),
    'public Worker, API route': cpuRow(cpuTimes.publicApiRoute, 'GET /api/v1/public/events (platform host)'),
    'trivial Worker (floor)': cpuRow(cpuTimes.floor, 'GET /health'),
  });
  if (instructionCounts === null) {
    console.log('Instructions: valgrind is not installed (apt-get install valgrind), not counted');
  } else {
    console.log("Instructions (valgrind's callgrind, one fresh Node process each, Node's own start-up included)");
    console.table({
      'Eventra Worker': { instructions: millions(instructionCounts.worker), 'first request': 'GET /health' },
      'Eventra Worker, API route': {
        instructions: millions(instructionCounts.workerApiRoute),
        'first request': 'GET /api/v1/public/events (platform host)',
      },
      'public Worker': { instructions: millions(instructionCounts.publicWorker), 'first request': 'GET /health' },
      'public Worker, API route': {
        instructions: millions(instructionCounts.publicApiRoute),
        'first request': 'GET /api/v1/public/events (platform host)',
      },
      'trivial Worker (floor)': { instructions: millions(instructionCounts.floor), 'first request': 'GET /health' },
    });
    console.log(
      `Instructions over the trivial Worker: ${millions(instructionCounts.workerOverFloor)} to the first /health ` +
        `(${(instructionCounts.worker / instructionCounts.floor).toFixed(2)} x the trivial Worker's process), ` +
        `${millions(instructionCounts.workerApiRouteOverFloor)} to the first API response; the public Worker ` +
        `${millions(instructionCounts.publicWorkerOverFloor)} and ${millions(instructionCounts.publicApiRouteOverFloor)}`,
    );
  }
  console.log(
    `workerd's own start-up (\`workerd test\`: compile and evaluate the script, nothing else), ${runs} runs, medians`,
  );
  const over = (key: 'worker' | 'publicWorker') => ({
    'load (ms)': workerdStart[key].medianMs,
    'over the trivial Worker (ms)': round(workerdStart[key].medianMs - workerdStart.floor.medianMs),
    instructions: workerdStart[key].instructions === null ? 'n/a' : millions(workerdStart[key].instructions),
    'instructions over the trivial Worker':
      workerdStart[key].instructions === null || workerdStart.floor.instructions === null
        ? 'n/a'
        : millions(workerdStart[key].instructions - workerdStart.floor.instructions),
  });
  console.table({
    'Eventra Worker': over('worker'),
    'public Worker': over('publicWorker'),
    'trivial Worker (floor)': {
      'load (ms)': workerdStart.floor.medianMs,
      'over the trivial Worker (ms)': 0,
      instructions: workerdStart.floor.instructions === null ? 'n/a' : millions(workerdStart.floor.instructions),
      'instructions over the trivial Worker': 0,
    },
  });
  console.log(result.startup.line);

  const resultsDir = join(root, 'bench/results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'bundle.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log('Wrote bench/results/bundle.json');
} finally {
  await rm(work, { recursive: true, force: true });
}

function round(ms: number, per = 10): number {
  return Math.round(ms * per) / per;
}

/** The cold-start line, printed here and, from bundle.json, again by bench/run.ts at the end of its bundle part. */
function coldStartLine(startup: {
  moduleEvaluationMs: number;
  readyOverFloorMs: number;
  firstApiResponseOverFloorMs: number;
  moduleEvaluationOverFloorStart: number;
  publicModuleEvaluationMs: number;
  publicFirstApiResponseOverFloorMs: number;
  floor: { medianFirstResponseMs: number };
  workerd: Record<'worker' | 'publicWorker' | 'floor', { medianMs: number; instructions: number | null }>;
  cpu: Record<
    'worker' | 'workerApiRoute' | 'publicApiRoute' | 'floor',
    { medianImportCpuMs: number; medianTotalCpuMs: number }
  >;
}): string {
  const { cpu, workerd } = startup;
  const workerdOver = (key: 'worker' | 'publicWorker') =>
    `+${round(workerd[key].medianMs - workerd.floor.medianMs)} ms` +
    (workerd[key].instructions === null || workerd.floor.instructions === null
      ? ''
      : ` (+${((workerd[key].instructions - workerd.floor.instructions) / 1e6).toFixed(0)} M instructions)`);
  return (
    `Start-up in workerd itself over a trivial Worker's ${workerd.floor.medianMs} ms: the API Worker ` +
    `${workerdOver('worker')}, the public Worker ${workerdOver('publicWorker')}. ` +
    `In Miniflare, over the trivial Worker (${startup.floor.medianFirstResponseMs} ms to its first response): ` +
    `module evaluation ${startup.moduleEvaluationMs} ms to the first /health ` +
    `(${startup.moduleEvaluationOverFloorStart} x the floor; ${startup.readyOverFloorMs} ms to ready), ` +
    `first API response +${startup.firstApiResponseOverFloorMs} ms (GET /api/v1/public/events, its group built on it); ` +
    `CPU: import ${round(cpu.worker.medianImportCpuMs - cpu.floor.medianImportCpuMs)} ms, ` +
    `to the first /health ${round(cpu.worker.medianTotalCpuMs - cpu.floor.medianTotalCpuMs)} ms, ` +
    `to the first API response ${round(cpu.workerApiRoute.medianTotalCpuMs - cpu.floor.medianTotalCpuMs)} ms over the floor; ` +
    `the public Worker: module evaluation ${startup.publicModuleEvaluationMs} ms, first API response ` +
    `+${startup.publicFirstApiResponseOverFloorMs} ms, CPU to it ` +
    `${round(cpu.publicApiRoute.medianTotalCpuMs - cpu.floor.medianTotalCpuMs)} ms over the floor`
  );
}
