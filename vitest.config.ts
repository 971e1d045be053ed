import { availableParallelism } from 'node:os';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { featureWorkerOptions } from './dev/feature-workers.ts';
import { SuiteSequencer } from './tests/setup/sequencer.ts';

/** Vitest's teardown rejection of a console line still on its way from a test worker (see onUnhandledError below). */
/** The feature Workers behind the API Worker's service bindings (dev/feature-workers.ts: built when an input changed). */
let featureWorkers: ReturnType<typeof featureWorkerOptions> | undefined;

function isLostConsoleLine(error: { name?: string; message?: string }): boolean {
  return (
    (error.name === 'EnvironmentTeardownError' &&
      error.message === '[vitest-worker]: Closing rpc while "onUserConsoleLog" was pending') ||
    // The same race seen from workerd's side: the pending console RPC of a background queue batch belongs to the
    // context of the file that just ended, and settling it from the batch's context is refused with exactly this
    // error (I/O type RefcountedFulfiller: a promise fulfiller, never a request's stream or body). The batch itself
    // is retried by the queue (its handlers are idempotent), so nothing a test checks is lost.
    (error.message?.startsWith('Cannot perform I/O on behalf of a different request.') === true &&
      error.message.endsWith('(I/O type: RefcountedFulfiller)'))
  );
}

export default defineConfig({
  test: {
    // Test files run side by side, at least two at a time. Vitest's default (one fewer than the cores) is a single
    // worker on a 2-core machine, which ran all 79 files one after the other while the cores mostly waited: a Worker
    // test spends its time on round trips (workerd -> gateway -> PostgreSQL/Redis) and on scrypt in its own workerd.
    // Files are independent when run at once (own tenants, ids, client addresses and webhook names; cron runs take
    // tests/support/cron.ts's lock), and the other projects' files overlap the Worker files.
    // Two at most on 2 cores: with three, the suite grown by issues #14 and #17 starved the gateways past Redis's 2 s
    // deadline now and then (503s in unrelated tests).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    sequence: { sequencer: SuiteSequencer },
    // No transform cache on disk. With it, vitest hands each test run a snapshot of every already-transformed module
    // of the run's import graph, and the Workers pool inlines all that code into one WebSocket message to workerd;
    // past workerd's 1 MiB message limit the socket closes (1009 "Message is too large") and vitest reports "Worker
    // exited unexpectedly", losing that worker's files and their coverage. Without the cache, modules are fetched
    // one message each.
    fsModuleCache: false,
    // One error is not the tests' and is dropped (in its two shapes): a console line in flight from workerd when a test file ends. The
    // Worker project keeps one workerd across files (isolate: false), so a queue consumer or a waitUntil started by an
    // earlier test may log (a warning about an unreachable webhook endpoint, say) just as vitest closes that file's
    // RPC channel; vitest then rejects the pending "onUserConsoleLog" call with an EnvironmentTeardownError and counts
    // it as an unhandled error, failing a run whose tests all passed (CI of 2026-12-02, tests/worker/outbox.test.ts).
    // Only that exact error is dropped (the log line is lost, nothing else); every other unhandled error still fails.
    onUnhandledError: (error) => !isLostConsoleLine(error),
    coverage: {
      // istanbul instruments the source, so it also measures code running inside workerd.
      provider: 'istanbul',
      reporter: ['text', 'html', 'json-summary'],
      // Authentication and authorization must be covered completely (issue #3).
      include: [
        'src/services/auth/**/*.ts',
        'src/middleware/auth.ts',
        'src/lib/rate-limit.ts',
        'src/lib/rate-limit-headers.ts',
        'src/services/roles/authority.ts',
        'src/services/users/guards.ts',
      ],
      thresholds: { lines: 100, branches: 100, functions: 100, statements: 100 },
    },
    projects: [
      {
        // The local gateways against the real drivers, in Node (where the gateways run).
        test: {
          name: 'gateways',
          include: ['tests/gateways/**/*.test.ts'],
          environment: 'node',
          // The Node projects' files share their worker process, one file after another, like the Worker files share
          // their workerd: a fresh process per file cost about 1.5 s of start-up and imports each (21 files: 43 s
          // alone on 2 cores with a process per file, 35 s shared). No file of these projects changes process-wide
          // state (process.env, globals, module mocks); each starts and stops its own servers and databases.
          isolate: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Node-only checks of Worker code that need tools workerd cannot run (e.g. schema validators that compile code).
        test: {
          name: 'node',
          include: ['tests/node/**/*.test.ts'],
          environment: 'node',
          isolate: false,
          // The first test of a file imports route groups and their schemas: seconds on a busy machine.
          testTimeout: 30_000,
        },
      },
      {
        // /docs in a real browser (Debian's chromium via playwright-core) against the Worker under wrangler.
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 150_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The SDK (sdk/): its own unit tests, and end to end against `wrangler dev` on its own database over real
        // HTTP (tests/e2e/stack.ts).
        test: {
          name: 'e2e',
          include: ['sdk/test/**/*.test.ts', 'tests/e2e/**/*.test.ts'],
          environment: 'node',
          isolate: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The Worker in workerd, against real PostgreSQL and Redis through the gateways.
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            main: './src/index.ts',
            wrangler: { configPath: './wrangler.toml', environment: 'local' },
            miniflare: {
              // LIVE_HEARTBEAT_SECONDS: live streams re-check their session every second (15 s by default).
              bindings: {
                ...inject('workerVars'),
                LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
                LIVE_HEARTBEAT_SECONDS: '1',
              },
              // The invoice PDF renderer (PDF_RENDERER's target), as deployed.
              workers: await (featureWorkers ??= featureWorkerOptions('local')),
            },
          })),
        ],
        test: {
          name: 'worker',
          include: ['tests/worker/**/*.test.ts'],
          globalSetup: ['./tests/setup/global.ts'],
          // One workerd per worker, reused across files: a fresh one per file cost about a second to spawn plus the
          // app's module graph imported again, several minutes over the suite. Tests make their own tenants, ids and
          // client addresses, so no file depends on a fresh isolate's state.
          isolate: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
