// The running API for the end-to-end tests: a fresh database (real PostgreSQL when it answers, else embedded PGlite)
// with the migrations applied, the Neon and Upstash gateways (dev/stack.ts), and `wrangler dev --env local` on a free
// loopback port: the same Worker `npm run dev` serves, reached over real HTTP.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WRANGLER_DEV_ENVIRONMENT, devConfigArguments } from '../../dev/feature-workers.ts';
import { startStack, type Stack } from '../../dev/stack.ts';
import { applyMigrations } from '../../drizzle/migrate.ts';
import { createTestDatabase } from '../setup/database.ts';
import { detectServices } from '../setup/services.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningApi {
  /** The platform host: http://localhost:<port>; organizations are http://<slug>.localhost:<port>. */
  baseUrl: string;
  port: number;
  /** The database as its owner (not the Worker's role): for fixtures a test writes directly. */
  databaseUrl: string;
  /** What wrangler dev printed last (up to 20,000 characters): the Workers' log lines among it. */
  output(): string;
  close(): Promise<void>;
}

/**
 * A port free on the loopback interface, drawn from 20000-32767: below Linux's default ephemeral range (32768-60999),
 * from which every outgoing connection of the machine takes its local port and every `listen(0)` its port. A port
 * from that range, found free and handed to wrangler a moment later, was once taken meanwhile by one of the suite's
 * thousands of loopback connections ("Address already in use"). The check is still a check-then-use race, which
 * `startApi` covers by starting wrangler again on fresh ports.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** How many times `startApi` starts wrangler dev on fresh ports when a chosen port was taken before wrangler bound it. */
const PORT_ATTEMPTS = 3;

/**
 * Starts the stack. `front: 'public'` puts the public Worker (src/public.ts) in front, as production routes the
 * buyer's paths: it answers those itself and hands every other request to the API Worker over its service binding.
 * `logLevel` is the Workers' (warn unless given).
 */
export async function startApi(
  options: { front?: 'api' | 'public'; logLevel?: 'info' | 'warn' } = {},
): Promise<RunningApi> {
  const cleanups: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(error));
  };
  try {
    const services = await detectServices();
    const log = (message: string): void => {
      if (/unreachable|embedded|error/i.test(message)) console.log(`[e2e stack] ${message}`);
    };
    const redis = { url: services.redis.kind === 'real' ? services.redis.url : undefined, allowEmbedded: true };
    // The migrations run while wrangler starts (the Worker touches the database only when a request needs it).
    let stack: Stack;
    let migrated: Promise<void>;
    if (services.postgres.kind === 'real') {
      const database = await createTestDatabase(services.postgres.adminUrl, 'eventra_e2e');
      cleanups.push(() => database.drop());
      stack = await startStack({ postgres: { kind: 'real', url: database.url }, redis, log });
      migrated = applyMigrations(database.url);
    } else {
      stack = await startStack({ postgres: { kind: 'embedded' }, redis, log });
      migrated = applyMigrations(stack.directDatabaseUrl);
    }
    const running = stack;
    cleanups.push(() => running.close());
    // Caught at once (no unhandled rejection while wrangler starts) and thrown once wrangler answers.
    const migration = migrated.then(
      () => null,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );

    // Secrets go through an env file (as dev/run.ts does) in a private directory, with wrangler's local state.
    const directory = await mkdtemp(path.join(os.tmpdir(), 'eventra-e2e-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const envFile = path.join(directory, 'worker.env');
    const lines = Object.entries(stack.workerVars()).map(([key, value]) => `${key}=${value}`);
    await writeFile(envFile, `${lines.join('\n')}\nLOG_LEVEL=${options.logLevel ?? 'warn'}\n`, { mode: 0o600 });

    /** Starts wrangler dev on two fresh ports and waits for /health; null when it lost a port to another process. */
    const launch = async (): Promise<Pick<RunningApi, 'port' | 'output'> | null> => {
      const port = await freePort();
      const inspectorPort = await freePort();
      const wrangler = spawn(
        path.join(root, 'node_modules', '.bin', 'wrangler'),
        [
          'dev',
          // The API Worker (behind the public Worker, with `front: 'public'`) and the feature Workers, in one runtime.
          ...devConfigArguments(options.front),
          '--env',
          'local',
          '--ip',
          '127.0.0.1',
          '--port',
          String(port),
          '--inspector-port',
          String(inspectorPort),
          '--env-file',
          envFile,
          '--persist-to',
          path.join(directory, 'state'),
          '--show-interactive-dev-session=false',
        ],
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
          env: { ...process.env, ...WRANGLER_DEV_ENVIRONMENT },
        },
      );
      let output = '';
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString()).slice(-20_000);
      };
      wrangler.stdout.on('data', keep);
      wrangler.stderr.on('data', keep);
      const exited = new Promise<void>((resolve) => wrangler.once('exit', () => resolve()));
      cleanups.push(async () => {
        if (wrangler.pid === undefined || wrangler.exitCode !== null) return;
        // wrangler runs in its own process group: signal the group so workerd stops too.
        process.kill(-wrangler.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (wrangler.pid !== undefined && wrangler.exitCode === null) process.kill(-wrangler.pid, 'SIGKILL');
        }, 5_000);
        await exited;
        clearTimeout(timer);
      });

      const deadline = Date.now() + 90_000;
      for (;;) {
        if (wrangler.exitCode !== null) {
          if (output.includes('Address already in use')) return null;
          throw new Error(`wrangler dev exited (${wrangler.exitCode}):\n${output}`);
        }
        const ready = await fetch(`http://127.0.0.1:${port}/health`).then(
          (response) => response.ok,
          () => false,
        );
        if (ready) return { port, output: () => output };
        if (Date.now() > deadline) throw new Error(`wrangler dev did not answer /health within 90 s:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    let launched: Pick<RunningApi, 'port' | 'output'> | null = null;
    for (let attempt = 1; launched === null; attempt++) {
      if (attempt > PORT_ATTEMPTS) throw new Error(`wrangler dev lost its port ${PORT_ATTEMPTS} times in a row`);
      launched = await launch();
    }
    const { port, output } = launched;
    const baseUrl = `http://localhost:${port}`;
    const migrationError = await migration;
    if (migrationError !== null) throw migrationError;
    return { baseUrl, port, databaseUrl: stack.directDatabaseUrl, output, close };
  } catch (error) {
    await close();
    throw error;
  }
}
