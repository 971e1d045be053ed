/**
 * `npm run dev`: the whole local edge stack in one command, with embedded defaults.
 *
 *   1. PostgreSQL: DATABASE_URL when given, else embedded PGlite persisted in .eventra/pglite
 *   2. Redis: REDIS_URL (default redis://127.0.0.1:6379), else the embedded stand-in (logged)
 *   3. the Neon and Upstash gateways in front of them, migrations, demo data on an empty database
 *   4. a local OpenID Provider (dev/oidc-idp.ts) and globex's SSO connection to it, to click through SSO
 *   5. the static assets (dev/docs-assets.ts: Scalar's bundle for /docs)
 *   6. `wrangler dev --env local` pointed at the gateways; Ctrl-C stops everything.
 *
 * EVENTRA_FRONT=public puts the public Worker (src/public.ts) in front of the API Worker, as production routes the
 * buyer's paths (`npm run bench -- --front public` measures that path). The local cron below then does not run:
 * wrangler's scheduled endpoint calls the first Worker's handler, and the public Worker has none.
 *
 * EVENTRA_LOCAL_CRON=off leaves the local cron out (the benchmarks' stack, bench/stack.ts: a scheduled run on the
 * benchmark database takes seconds of the same isolate, and landed in whichever measurement was running).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '../drizzle/migrate.ts';
import {
  demoEmail,
  isEmpty,
  seed,
  DEMO_DOMAINS,
  DEMO_ORGANIZATIONS,
  DEMO_EVENTS,
  DEMO_PASSWORD,
  PLATFORM_ADMIN_EMAIL,
} from '../drizzle/seed.ts';
import { BUILT_IN_ROLE_KEYS } from '../src/services/auth/permissions.ts';
import { buildDocsAssets } from './docs-assets.ts';
import { WRANGLER_DEV_ENVIRONMENT, devConfigArguments } from './feature-workers.ts';
import {
  DEV_SSO_CONNECTION_ID,
  DEV_SSO_ORGANIZATION,
  seedDevSsoConnection,
  startDevIdp,
  type DevIdp,
} from './oidc-idp.ts';
import { generateDataEncryptionKey, generateSigningKeysSecret } from './keys.ts';
import { startStack, type Stack } from './stack.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.join(root, '.eventra');
const port = Number(process.env.PORT ?? 8787);
const neonPort = Number(process.env.NEON_GATEWAY_PORT ?? 4444);
const upstashPort = Number(process.env.UPSTASH_GATEWAY_PORT ?? 8079);
// wrangler's DevTools inspector (CPU profiles under load); its own default (9229) unless INSPECTOR_PORT is set.
const inspectorPort = process.env.INSPECTOR_PORT;
const front = process.env.EVENTRA_FRONT === 'public' ? 'public' : 'api';
// The local identity provider of the SSO walk-through (dev/oidc-idp.ts).
const idpPort = Number(process.env.DEV_IDP_PORT ?? 9400);

const log = (message: string, fields?: Record<string, unknown>): void => {
  const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  console.log(`[dev] ${message}${extra}`);
};

let stack: Stack | undefined;
let idp: DevIdp | undefined;
let wrangler: ChildProcess | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log('stopping');
    if (wrangler?.pid !== undefined && wrangler.exitCode === null) {
      const exited = new Promise<void>((resolve) => wrangler?.once('exit', () => resolve()));
      // wrangler runs in its own process group: signal the whole group so workerd goes too.
      try {
        process.kill(-wrangler.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timeout = setTimeout(() => {
        try {
          if (wrangler?.pid !== undefined) process.kill(-wrangler.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5_000);
      await exited;
      clearTimeout(timeout);
    }
    await idp?.close();
    await stack?.close();
    log('stopped');
  }
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  const started = Date.now();
  await mkdir(stateDir, { recursive: true });
  stack = await startStack({
    jwtSigningKeys: await localSecret('jwt-keys.json', generateSigningKeysSecret),
    dataEncryptionKey: await localSecret('data-key', generateDataEncryptionKey),
    postgres: databaseUrl
      ? { kind: 'real', url: databaseUrl }
      : { kind: 'embedded', dataDir: path.join(stateDir, 'pglite') },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', allowEmbedded: true },
    neonPort,
    upstashPort,
    // `npm run bench` starts this script with EVENTRA_CAPTURE_SQL=1 to replay the Worker's SQL (never for dev use).
    captureSql: process.env.EVENTRA_CAPTURE_SQL === '1',
    log,
  });
  log(
    `PostgreSQL: ${stack.postgresKind === 'real' ? 'DATABASE_URL' : 'embedded PGlite (.eventra/pglite)'}; ` +
      `Redis: ${stack.redisKind === 'redis' ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : 'embedded stand-in'}`,
  );
  await applyMigrations(stack.directDatabaseUrl);
  log('migrations applied');
  if (await isEmpty(stack.directDatabaseUrl)) {
    await seed(stack.directDatabaseUrl);
    log('empty database: demo data seeded');
  }
  idp = await startDevIdp({
    port: idpPort,
    callbackUrl: `http://${DEV_SSO_ORGANIZATION}.localhost:${String(port)}/api/v1/sso/callback`,
  });
  await seedDevSsoConnection(stack.directDatabaseUrl, { issuer: idp.issuer });
  log(`local identity provider on ${idp.issuer}; ${DEV_SSO_ORGANIZATION} signs in through it`);

  // The gateway credentials go through an env file so wrangler shows them as hidden, not in its bindings table.
  const envFile = path.join(stateDir, 'dev.env');
  const vars: Record<string, string> = stack.workerVars();
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n') + '\n',
    {
      mode: 0o600,
    },
  );

  // wrangler.toml's [assets] directory (Scalar's bundle for /docs), from node_modules: it is not committed.
  await buildDocsAssets();
  const wranglerBin = path.join(root, 'node_modules', '.bin', 'wrangler');
  wrangler = spawn(
    wranglerBin,
    [
      'dev',
      // The API Worker and the feature Workers behind its service bindings, in one runtime.
      ...devConfigArguments(front),
      '--env',
      'local',
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--env-file',
      envFile,
      '--show-interactive-dev-session=false',
      // `npm run bench` measures the production path: no check of response bodies against their schemas. A `--var`,
      // not the env file: with `[env.local.secrets]` declared, wrangler dev reads only those names from the file.
      ...(process.env.EVENTRA_RESPONSE_CHECKS === 'off' ? ['--var', 'RESPONSE_CHECKS:off'] : []),
      ...(inspectorPort === undefined ? [] : ['--inspector-port', inspectorPort]),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      // wrangler.toml's `[env.local.secrets]` makes wrangler dev read those names from its own environment before the
      // env file: drop them (a DATABASE_URL in the shell is the direct owner URL, not the gateway's app-role URL).
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !(key in vars))),
        ...WRANGLER_DEV_ENVIRONMENT,
      },
    },
  );
  let announced = false;
  const onOutput = (chunk: Buffer, stream: NodeJS.WriteStream): void => {
    stream.write(chunk);
    if (!announced && /Ready on/i.test(chunk.toString())) {
      announced = true;
      banner(Date.now() - started);
      if (process.env.EVENTRA_LOCAL_CRON === 'off') log('EVENTRA_LOCAL_CRON=off: the local cron does not run');
      else if (front === 'api') startCron();
      else log('the public Worker is in front (EVENTRA_FRONT=public): the local cron does not run');
    }
  };
  wrangler.stdout?.on('data', (chunk: Buffer) => onOutput(chunk, process.stdout));
  wrangler.stderr?.on('data', (chunk: Buffer) => onOutput(chunk, process.stderr));
  wrangler.on('exit', (code) => {
    if (!stopping) {
      log(`wrangler exited with code ${code ?? 'null'}`);
      void stop(code ?? 1);
    }
  });
}

/**
 * wrangler dev does not fire cron triggers by itself, so the every-minute scheduled handler (hold expiry, outbox
 * sweep, usage flush) is triggered here through wrangler's local endpoint, as production's cron would.
 */
function startCron(): void {
  let failing = false;
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then(
      (response) => {
        if (!response.ok && !failing) log(`scheduled run answered ${response.status}`);
        failing = !response.ok;
      },
      (error: unknown) => {
        if (!failing) log('scheduled run failed', { error: String(error) });
        failing = true;
      },
    );
  }, 60_000);
  timer.unref();
}

/** The local signing key survives restarts (.eventra/jwt-keys.json), so tokens stay valid across `npm run dev` runs. */
/** A local secret kept in .eventra/ so tokens and encrypted settings survive restarts; made on first use. */
async function localSecret(name: string, generate: () => string | Promise<string>): Promise<string> {
  const file = path.join(stateDir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = await generate();
    await writeFile(file, secret + '\n', { mode: 0o600 });
    return secret;
  }
}

function banner(elapsedMs: number): void {
  const base = `http://localhost:${port}`;
  const lines = [
    '',
    `Eventra is running (ready in ${(elapsedMs / 1000).toFixed(1)} s)`,
    '',
    `  API (platform host)   ${base}`,
    `  API reference         ${base}/docs`,
    `  OpenAPI document      ${base}/api/v1/openapi.json`,
    `  Readiness             ${base}/health/ready`,
    `  Tenant host           http://acme.localhost:${port}/health/ready`,
    `  Custom domain         curl --resolve ${DEMO_DOMAINS[0].hostname}:${port}:127.0.0.1 http://${DEMO_DOMAINS[0].hostname}:${port}/health/ready`,
    '',
    '  Demo organizations (slug -> host):',
    ...DEMO_ORGANIZATIONS.map(
      (org) =>
        `    ${org.slug.padEnd(9)} ${org.plan.padEnd(11)} ${org.status.padEnd(10)} http://${org.slug}.localhost:${port}`,
    ),
    '',
    `  Demo credentials (password for every account: ${DEMO_PASSWORD})`,
    `    platform admin: ${PLATFORM_ADMIN_EMAIL} on http://localhost:${port}`,
    `    in every active organization: ${BUILT_IN_ROLE_KEYS.map((role) => demoEmail(role, '<slug>')).join(', ')}`,
    `    e.g. curl -X POST http://acme.localhost:${port}/api/v1/auth/login -H 'content-type: application/json' \\`,
    `           -d '{"email":"${demoEmail('owner', 'acme')}","password":"${DEMO_PASSWORD}"}'`,
    '',
    `  Single sign-on: ${DEV_SSO_ORGANIZATION} has an OIDC connection to the local IdP ${idp?.issuer ?? ''} (any login and`,
    `    password; \`admin@${DEV_SSO_ORGANIZATION}.test\` is the seeded admin). Start it, open the URL it answers:`,
    `    curl -X POST http://${DEV_SSO_ORGANIZATION}.localhost:${port}/api/v1/sso/authorize -H 'content-type: application/json' \\`,
    `      -d '{"connectionId":"${DEV_SSO_CONNECTION_ID}","redirectUri":"http://${DEV_SSO_ORGANIZATION}.localhost:${port}/signed-in"}'`,
    '    then POST the `code` of the page you land on to /api/v1/sso/token (README.md, "Single sign-on locally").',
    '',
    `  Demo events: ${DEMO_EVENTS.map((event) => `${event.organization}/${event.slug}`).join(', ')}`,
    `    e.g. curl http://acme.localhost:${port}/api/v1/public/events/acme-summit  (then POST .../bookings)`,
    '',
    `  Gateways: Neon SQL-over-HTTP http://127.0.0.1:${neonPort}/sql, Upstash REST http://127.0.0.1:${upstashPort}`,
    '  Press Ctrl-C to stop.',
    '',
  ];
  console.log(lines.join('\n'));
}

main().catch(async (error: unknown) => {
  console.error('[dev] failed to start:', error instanceof Error ? error.message : error);
  await stop(1);
});
