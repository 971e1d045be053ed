// `npm run bench`: every benchmark in one run, side by side, never part of `npm test`.
//   1. the scale seed (bench/seed.ts; resumable, nothing to do once seeded): --orgs, default 10,000
//   2. bundle size and module-evaluation time (bench/bundle.ts)
//   3. the local stack on the seeded database (bench/stack.ts), fixtures (bench/fixtures.ts)
//   4. the query-plan check (bench/plans.ts): fails on a sequential scan of a tenant table
//   5. the load test with its floors (bench/load.ts)
//   6. 1,000 buyers for 100 seats (bench/concurrency.ts)
//   7. the organization export at 10,000 and 100,000 bookings (bench/export.ts; its own database, seeded in seconds):
//      time to ready and peak workerd RSS, every file's record count checked against the seeded rows
// Prints a table per part and writes bench/results/bench-<run>.json and bench/results/latest.json (git-ignored).
// Exits 1 when the plan check finds a sequential scan of a tenant table (or a statement fails), when the rush sells
// anything but exactly its seats, when an export file's record count differs from the seeded rows, or when a core endpoint makes more round trips than its budget.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { rush, staticRush, type AllAtOnce, type ConcurrencyResult } from './concurrency.ts';
import { benchExports, EXPORT_DATABASE_URL, type ExportRun } from './export.ts';
import { BENCH_DATABASE_URL, prepareFixtures } from './fixtures.ts';
import { withCpuProfile } from './inspector.ts';
import {
  SCENARIOS,
  cpuTotal,
  runScenario,
  staticFloor,
  type Cpu,
  type LatencySummary,
  type ScenarioResult,
} from './load.ts';
import { checkPlans, type PlanReport } from './plans.ts';
import { resultsDir, root, startBenchStack, table } from './stack.ts';

const PARTS = ['seed', 'bundle', 'plans', 'load', 'rush', 'export'] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    orgs: { type: 'string', default: '10000' },
    url: { type: 'string', default: BENCH_DATABASE_URL },
    only: { type: 'string', default: PARTS.join(',') },
    scenarios: { type: 'string', default: SCENARIOS.map((scenario) => scenario.name).join(',') },
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    sample: { type: 'string', default: '100' },
    tenants: { type: 'string', default: '20' },
    buyers: { type: 'string', default: '1000' },
    seats: { type: 'string', default: '100' },
    'export-bookings': { type: 'string', default: '10000,100000' },
    'export-url': { type: 'string', default: EXPORT_DATABASE_URL },
    front: { type: 'string', default: 'api' },
    profile: { type: 'string' },
  },
});

const positive = (name: string, value: string | undefined): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`--${name} must be a positive integer`);
  return number;
};
const only = new Set(values.only.split(',').map((part) => part.trim()));
for (const part of only) {
  if (!(PARTS as readonly string[]).includes(part))
    throw new Error(`--only: unknown part "${part}" (${PARTS.join(', ')})`);
}
const wanted = (part: Part) => only.has(part);
if (values.front !== 'api' && values.front !== 'public') throw new Error('--front must be api or public');
const front = values.front;
const scenarioNames = new Set(values.scenarios.split(',').map((name) => name.trim()));
const scenarios = SCENARIOS.filter((scenario) => scenarioNames.has(scenario.name));
const load = {
  connections: positive('connections', values.connections),
  duration: positive('duration', values.duration),
  warmup: positive('warmup', values.warmup),
  sample: positive('sample', values.sample),
};
const databaseUrl = values.url;
if (!decodeURIComponent(new URL(databaseUrl).pathname.slice(1)).includes('bench')) {
  throw new Error('the benchmark database name must contain "bench" (--url or BENCH_DATABASE_URL)');
}

/** Budget per request of every core endpoint: the edge promise rests on it. */
const ROUND_TRIP_BUDGET = { database: 1, redis: 1 };

function runNode(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, script), ...args], { cwd: root, stdio: 'inherit' });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with code ${code}`))));
  });
}

async function machine(client: pg.Client) {
  const { rows } = await client.query<{ version: string }>('select version()');
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: rows[0]?.version.split(',')[0] ?? 'unknown',
  };
}

const ms = (value: number) => Math.round(value * 10) / 10;

function printPlans(report: PlanReport): void {
  console.log('\nQuery plans on the scale data (EXPLAIN ANALYZE, BUFFERS; every statement of each endpoint)');
  console.log(
    table([
      ['endpoint', '#', 'plan shape', 'rows', 'exec ms', 'hit', 'read', 'seq scans'],
      ...report.statements.map((entry) => [
        entry.endpoint,
        entry.statement,
        (entry.error ? `ERROR ${entry.error}` : entry.shape).slice(0, 110),
        entry.rows,
        ms(entry.executionMs),
        entry.sharedHit,
        entry.sharedRead,
        entry.seqScans.length === 0
          ? '-'
          : entry.seqScans.map((name) => (entry.tenantSeqScans.includes(name) ? `${name} (TENANT)` : name)).join(' '),
      ]),
    ]),
  );
  console.log(
    report.failures.length === 0
      ? `${report.statements.length} statements: no sequential scan of a tenant table.`
      : `FAILED: ${report.failures.length} statement(s) scan a tenant table sequentially or failed.`,
  );
}

function printLoad(floor: LatencySummary & Cpu, results: ScenarioResult[]): void {
  const floorCpu = cpuTotal(floor.cpuMsPerRequest);
  const cpu = (summary: Cpu) => {
    const total = cpuTotal(summary.cpuMsPerRequest);
    return Number.isNaN(total) ? ['-', '-'] : [ms(total), (total / floorCpu).toFixed(2)];
  };
  console.log(
    `\nLoad (autocannon, ${load.connections} connections, ${load.duration} s per line after ${load.warmup} s warm-up; ` +
      'latency in ms; round trips per request from the gateways, sampled: mean (max); +lookups: tenant lookups per ' +
      'request, one per host and isolate every 30 s; x static / x sql: p50 over the floor p50; x floors: p50 over ' +
      'the static p50 plus the SQL p50; cpu: CPU per request of the whole stack, every process of it, ms; x cpu: ' +
      "that over the static floor's)",
  );
  const line = (label: string, summary: LatencySummary): (string | number)[] => [
    label,
    ms(summary.rps),
    ms(summary.p50),
    ms(summary.p95),
    ms(summary.p99),
    summary.errors,
  ];
  console.log(
    table([
      [
        'endpoint',
        'req/s',
        'p50',
        'p95',
        'p99',
        'errors',
        'db rt',
        'redis rt',
        '+lookups',
        'x static',
        'x sql',
        'x floors',
        'cpu',
        'x cpu',
      ],
      [...line('floor: static GET /health', floor), '0', '0', '-', '1.00', '-', '-', ...cpu(floor)],
      ...results.flatMap((result) => [
        [
          ...line(result.label, result),
          `${ms(result.roundTrips.database.mean)} (max ${result.roundTrips.database.max})`,
          `${ms(result.roundTrips.redis.mean)} (max ${result.roundTrips.redis.max})`,
          result.roundTrips.tenantLookups.toFixed(2),
          result.ratio.toStatic.toFixed(2),
          Number.isNaN(result.ratio.toSql) ? '-' : result.ratio.toSql.toFixed(2),
          result.ratio.toFloors.toFixed(2),
          ...cpu(result),
        ],
        [
          ...line(
            result.sqlFloor.replayedRequests === 0
              ? '  floor: no SQL sent (edge cache hits)'
              : `  floor: same SQL via gateway (${ms(result.sqlFloor.statementsPerRequest)} stmts)`,
            result.sqlFloor,
          ),
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
        ],
      ]),
    ]),
  );
}

/** The on-sale target of issue #13: the rush drains within this many static p50s (1 connection) of the same run. */
const RUSH_TARGET_X_STATIC = 800;

function printRush(result: ConcurrencyResult, floor: LatencySummary, floorRush: AllAtOnce): void {
  const xStatic = (result.drainSeconds * 1000) / floor.p50;
  console.log(
    `\nConcurrency: ${result.buyers} buyers for ${result.seats} seats, all at once; x static: the drain time over ` +
      `the static p50 at 1 connection measured just before (${ms(floor.p50)} ms; target <= ${RUSH_TARGET_X_STATIC})`,
  );
  console.log(
    table([
      [
        '201 created',
        '409 sold out',
        'other',
        'drain s',
        'x static',
        'db sold',
        'db held',
        'bookings',
        'tickets',
        'result',
      ],
      [
        result.created,
        result.soldOut,
        JSON.stringify(result.other),
        ms(result.drainSeconds),
        `${xStatic.toFixed(0)}${xStatic <= RUSH_TARGET_X_STATIC ? '' : ' (over target)'}`,
        result.database.sold,
        result.database.held,
        result.database.bookings,
        result.database.tickets,
        result.ok ? 'ok' : 'FAILED',
      ],
    ]),
  );
  // CPU seconds over the run, per request (the rush and its floor send as many).
  const perBuyer = (seconds: number) => `${ms((seconds * 1000) / result.buyers)} ms`;
  if (result.cpu !== null) {
    const { workerd, gateways, wrangler, postgres } = result.cpu;
    console.log(
      `CPU during the drain (user + system, /proc), per buyer: workerd ${perBuyer(workerd)} (${ms(workerd)} s), ` +
        `the gateways ${perBuyer(gateways)}, wrangler ${perBuyer(wrangler)}, PostgreSQL ${perBuyer(postgres)}`,
    );
  }
  // The floor of the rush's shape on this machine: the same number of requests at once, each answered without I/O.
  const answered = floorRush.statuses['200'] ?? 0;
  const floorX = (floorRush.drainSeconds * 1000) / floor.p50;
  const floorCpu =
    floorRush.cpu === null
      ? ''
      : `; CPU per request: workerd ${perBuyer(floorRush.cpu.workerd)}, wrangler ${perBuyer(floorRush.cpu.wrangler)}, ` +
        `the gateways ${perBuyer(floorRush.cpu.gateways)}`;
  console.log(
    `Floor of the shape: ${result.buyers} x GET /health at once drained in ${ms(floorRush.drainSeconds)} s ` +
      `(${floorX.toFixed(0)} x static; ${answered} answered 200)${floorCpu}. The rush over it: ` +
      `${(result.drainSeconds / floorRush.drainSeconds).toFixed(1)} x`,
  );
}

/**
 * The export step's bound on live heap above the idle isolate: three 5 MiB parts (src/services/exports/job.ts: the
 * part being filled, its copy handed to R2, the carry read back) and 5 MiB for a page's rows, the drivers' response
 * buffers and the R2 binding's copy of a body. 100,000 bookings measured +15.5 MiB (docs/PERFORMANCE.md).
 */
const EXPORT_WORKING_SET_MIB = 20;
/** Live heap an export may leave behind (caches warmed by its first run: discovery of the code paths, prepared SQL). */
const EXPORT_RETAINED_MIB = 4;

function printExports(runs: readonly ExportRun[]): void {
  console.log(
    '\nOrganization export (CSV, through the Worker: POST /api/v1/exports, poll until completed, download every ' +
      "file by its signed link and count its records; heap: V8's used heap of the Worker's isolate, where the queue " +
      "consumer runs the export, through the inspector; RSS: VmRSS of the stack's workerd processes, which also hold " +
      "miniflare's local R2 and queues; both sampled every 100 ms)",
  );
  console.log(
    table([
      [
        'bookings',
        'seed s',
        'ready s',
        'rows',
        'MB',
        'heap before MiB',
        'heap peak MiB',
        'live before',
        'live peak',
        'live after',
        'rss before MiB',
        'rss peak MiB',
        'counts',
      ],
      ...runs.map((run) => [
        run.bookings,
        ms(run.seedSeconds),
        ms(run.readySeconds),
        run.totalRows,
        ms(run.sizeBytes / 1e6),
        ms(run.heapBeforeMiB),
        ms(run.heapPeakMiB),
        ms(run.liveBeforeMiB),
        ms(run.livePeakMiB),
        ms(run.liveAfterMiB),
        ms(run.rssBeforeMiB),
        ms(run.rssPeakMiB),
        run.ok
          ? 'ok'
          : `MISMATCH ${run.files
              .filter((file) => file.rows !== file.expected || file.downloaded !== file.expected)
              .map((file) => `${file.name} ${file.rows}/${file.downloaded} of ${file.expected}`)
              .join(', ')}`,
      ]),
    ]),
  );
}

async function main(): Promise<number> {
  const runId = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-').toLowerCase();
  const problems: string[] = [];
  const output: Record<string, unknown> = { runId, options: { ...values } };

  if (wanted('seed')) await runNode('bench/seed.ts', ['--orgs', values.orgs, '--url', databaseUrl]);
  if (wanted('bundle')) {
    await runNode('bench/bundle.ts', []);
    const bundle = JSON.parse(await readFile(path.join(resultsDir, 'bundle.json'), 'utf8')) as {
      startup?: { line?: string };
    };
    output.bundle = bundle;
    if (bundle.startup?.line) console.log(`\n${bundle.startup.line}`);
  }

  if (wanted('plans') || wanted('load') || wanted('rush')) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    output.machine = await machine(client);
    console.log('\nstarting the local stack on the benchmark database (log: bench/results/stack.log)');
    const stack = await startBenchStack(databaseUrl, undefined, front);
    try {
      const fixtures = await prepareFixtures(stack, client, { tenants: positive('tenants', values.tenants), runId });
      output.fixtures = {
        seededOrganizations: fixtures.seededOrganizations,
        tenants: fixtures.tenants.map((tenant) => tenant.host),
      };
      console.log(
        `${fixtures.seededOrganizations.toLocaleString('en-US')} organizations seeded; acting as ` +
          `${fixtures.tenants.length} of them (${fixtures.tenants[0]?.host} ... ${fixtures.tenants.at(-1)?.host})`,
      );
      if (wanted('plans')) {
        const report = await checkPlans(stack, fixtures, databaseUrl);
        output.plans = report;
        printPlans(report);
        if (report.failures.length > 0) problems.push('query plans: sequential scan of a tenant table or a failure');
      }
      if (wanted('load') && scenarios.length > 0) {
        const floor = await staticFloor(stack, load);
        const lines = async () => {
          const done: ScenarioResult[] = [];
          for (const scenario of scenarios) {
            console.error(`load: ${scenario.label} ...`);
            done.push(await runScenario(stack, fixtures, scenario, load, floor));
          }
          return done;
        };
        // --profile <file> without the rush: a CPU profile of the isolate while it serves the load lines.
        const results =
          values.profile === undefined || wanted('rush')
            ? await lines()
            : await withCpuProfile(stack.inspectorPort, values.profile, lines);
        output.load = { options: load, staticFloor: floor, scenarios: results };
        printLoad(floor, results);
        for (const [index, result] of results.entries()) {
          // A GraphQL query may take one database round trip per nesting level (its scenario says how many).
          const budget = scenarios[index]?.budget ?? ROUND_TRIP_BUDGET;
          if (result.roundTrips.database.max > budget.database || result.roundTrips.redis.max > budget.redis) {
            problems.push(
              `${result.label}: up to ${result.roundTrips.database.max} database and ${result.roundTrips.redis.max} ` +
                `Redis round trips per request (budget ${budget.database} + ${budget.redis})`,
            );
          }
        }
      }
      if (wanted('rush')) {
        // The rush's yardstick: one request at a time through the same stack, just before it.
        const rushFloor = await staticFloor(stack, { connections: 1, duration: 5, warmup: 1, sample: 0 });
        // And the rush's own shape with nothing to do: as many GET /health at once as there are buyers.
        const floorRush = await staticRush(stack, positive('buyers', values.buyers));
        const buyers = () =>
          rush(stack, fixtures, databaseUrl, {
            buyers: positive('buyers', values.buyers),
            seats: positive('seats', values.seats),
          });
        // --profile <file>: a CPU profile of the Worker's isolate while it serves the buyers (the rush wins over load).
        const result =
          values.profile === undefined
            ? await buyers()
            : await withCpuProfile(stack.inspectorPort, values.profile, buyers);
        output.rush = {
          ...result,
          staticFloor1: rushFloor,
          xStatic: (result.drainSeconds * 1000) / rushFloor.p50,
          staticRush: { ...floorRush, xStatic: (floorRush.drainSeconds * 1000) / rushFloor.p50 },
        };
        printRush(result, rushFloor, floorRush);
        if (!result.ok) problems.push('rush: the seats sold do not match');
      }
    } finally {
      await stack.close();
      await client.end();
    }
  }

  if (wanted('export')) {
    const sizes = values['export-bookings'].split(',').map((size) => positive('export-bookings', size.trim()));
    const runs = await benchExports(sizes, values['export-url']);
    output.export = runs;
    printExports(runs);
    for (const run of runs) {
      if (!run.ok) problems.push(`export of ${run.bookings} bookings: file record counts differ from the seeded rows`);
    }
    const first = runs[0];
    const last = runs.at(-1);
    if (first !== undefined && last !== undefined && last !== first) {
      const liveFactor = last.livePeakMiB / first.livePeakMiB;
      console.log(
        `live heap peak at ${last.bookings} bookings is ${liveFactor.toFixed(2)}x the peak at ${first.bookings}; ` +
          `used heap (with garbage) ${(last.heapPeakMiB / first.heapPeakMiB).toFixed(2)}x, RSS ` +
          `${(last.rssPeakMiB / first.rssPeakMiB).toFixed(2)}x`,
      );
    }
    // Constant memory, judged on the live heap of the isolate at every size: what an export step holds stays under
    // its bound (EXPORT_WORKING_SET_MIB: three parts and a page with the drivers' buffers), and nothing
    // stays behind once it completed.
    for (const run of runs) {
      const working = run.livePeakMiB - run.liveBeforeMiB;
      const retained = run.liveAfterMiB - run.liveBeforeMiB;
      if (working > EXPORT_WORKING_SET_MIB) {
        problems.push(
          `export of ${run.bookings} bookings held ${working.toFixed(1)} MiB of live heap (bound ${EXPORT_WORKING_SET_MIB} MiB)`,
        );
      }
      if (retained > EXPORT_RETAINED_MIB) {
        problems.push(`export of ${run.bookings} bookings left ${retained.toFixed(1)} MiB of live heap behind`);
      }
      // The RSS is reported, not judged: it includes miniflare's R2 and queues (see bench/README.md).
    }
  }

  output.problems = problems;
  const json = `${JSON.stringify(output, null, 2)}\n`;
  await writeFile(path.join(resultsDir, `bench-${runId}.json`), json);
  await writeFile(path.join(resultsDir, 'latest.json'), json);
  console.log(`\nWrote bench/results/bench-${runId}.json (and latest.json)`);
  for (const problem of problems) console.log(`PROBLEM: ${problem}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
