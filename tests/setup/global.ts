import http from 'node:http';
import type { TestProject } from 'vitest/node';
import { closeServer } from '../../dev/gateways/keep-alive.ts';
import { startStack, type Stack } from '../../dev/stack.ts';
import { applyMigrations } from '../../drizzle/migrate.ts';
import { hashPassword, scryptPolicy } from '../../src/services/auth/passwords.ts';
import { createTestDatabase } from './database.ts';
import { startFakeCloudflare } from './fake-cloudflare.ts';
import { startFakeStripe } from './fake-stripe.ts';
import { startOidcIdp } from './oidc-idp.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';
import { describeServices, detectServices } from './services.ts';
import { TEST_PASSWORD, TEST_PASSWORD_HASH_COST } from './test-password.ts';
import './provided-context.ts';

const quiet = process.env.EVENTRA_TEST_VERBOSE ? undefined : true;
const log = (message: string, fields?: Record<string, unknown>): void => {
  if (!quiet || /unreachable|embedded|error/i.test(message)) console.log(`[stack] ${message}`, fields ?? '');
};

/**
 * Statements the Neon gateway keeps prepared per connection (dev/gateways/neon.ts): the suite sends the same few
 * thousand statements tens of thousands of times, and PostgreSQL parsing and analysing each of them again was a large
 * part of the run's CPU. Results, errors and round trips are the same as with Neon's fresh statements.
 */
const preparedStatementLimit = 1_000;

/** How long one step of the teardown (a server stopped, a database dropped) may take before the next one starts. */
const TEARDOWN_STEP_DEADLINE_MS = 15_000;

/** FUZZ_SEED (a number, or `random`) and FUZZ_RUNS for tests/worker/fuzz.test.ts; small and fixed by default. */
function fuzzSettings(environment: NodeJS.ProcessEnv): { seed: number; runs: number } {
  const seedText = environment.FUZZ_SEED ?? '20261202';
  const seed = seedText === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number.parseInt(seedText, 10);
  const runs = Number.parseInt(environment.FUZZ_RUNS ?? '5', 10);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(runs) || runs < 1) {
    throw new Error(`FUZZ_SEED must be an integer or "random" and FUZZ_RUNS a positive integer`);
  }
  return { seed, runs };
}

/**
 * Starts what the Worker tests need, once per run: a fresh database (real PostgreSQL when it answers, else
 * embedded PGlite), migrations, the two gateways, and a second gateway pair behind cuttable proxies for outage
 * tests. Says which services it uses in the first lines of the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The fixtures' password, hashed once for the run by the production code at the suite's cost (scrypt runs on Node's
  // thread pool, beside the set-up below) instead of once in every workerd.
  const hashCost = { ENVIRONMENT: 'local', LOCAL_PASSWORD_HASH_COST: TEST_PASSWORD_HASH_COST } as const;
  const testPasswordHash = hashPassword(TEST_PASSWORD, scryptPolicy(hashCost));
  // Never left unhandled if the set-up fails first (awaited below).
  void testPasswordHash.catch(() => undefined);
  const services = await detectServices();
  const description = describeServices(services);
  console.log(`\nEventra tests run against: ${description}`);
  if (services.postgres.kind === 'embedded' || services.redis.kind === 'embedded') {
    console.log(
      '(embedded defaults: set TEST_DATABASE_URL / TEST_REDIS_URL or start PostgreSQL and Redis for real ones)',
    );
  }

  // The teardown runs while the Worker project's workerd still runs (vitest stops its pool after the global
  // teardown), so a queue retry or a live stream's heartbeat may still be using a server being stopped. Every step
  // has a deadline: one that does not finish is reported by name and the rest still run (the databases are dropped
  // WITH (FORCE) at the end), instead of a run whose files all passed waiting forever.
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  const teardown = async (): Promise<void> => {
    for (const { name, run } of cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), TEARDOWN_STEP_DEADLINE_MS);
      });
      const outcome = await Promise.race([
        run().then(
          () => 'done' as const,
          (error: unknown) => {
            console.error(`[stack] stopping ${name} failed`, error);
            return 'failed' as const;
          },
        ),
        late,
      ]);
      clearTimeout(timer);
      if (outcome === 'late') {
        console.error(`[stack] stopping ${name} took over ${TEARDOWN_STEP_DEADLINE_MS / 1000} s; going on without it`);
      }
    }
  };
  try {
    let main: Stack;
    let fault: Stack | null = null;
    let dedicated: { name: string; mainName: string } | null = null;
    const redis = { url: services.redis.kind === 'real' ? services.redis.url : undefined, allowEmbedded: true };
    if (services.postgres.kind === 'real') {
      const database = await createTestDatabase(services.postgres.adminUrl);
      cleanups.push({ name: 'the test database', run: () => database.drop() });
      await applyMigrations(database.url);
      // The sharding tests' second database (tests/worker/sharding.test.ts): a copy of the freshly migrated one,
      // made before any gateway connects to it (a template must have no sessions), served by the same gateway.
      const second = await createTestDatabase(services.postgres.adminUrl, 'eventra_test_dedicated', database.name);
      cleanups.push({ name: 'the dedicated test database', run: () => second.drop() });
      dedicated = { name: second.name, mainName: database.name };
      main = await startStack({ postgres: { kind: 'real', url: database.url }, redis, log, preparedStatementLimit });
      cleanups.push({ name: 'the gateways', run: () => main.close() });
      if (services.redis.kind === 'real') {
        const faultStack = await startStack({
          postgres: { kind: 'real', url: database.url },
          redis: { url: services.redis.url, allowEmbedded: false },
          faultProxies: true,
          preparedStatementLimit,
          log,
        });
        fault = faultStack;
        cleanups.push({ name: 'the fault gateways', run: () => faultStack.close() });
      }
    } else {
      main = await startStack({ postgres: { kind: 'embedded' }, redis, log });
      cleanups.push({ name: 'the gateways', run: () => main.close() });
      await applyMigrations(main.directDatabaseUrl);
    }

    let faultControlUrl: string | null = null;
    if (fault) {
      const proxies = fault.proxies;
      // The fault stack is one for the whole run, and test files run in parallel: a file's tests hold it while they
      // use it (POST /lease waits its turn, POST /release lets the next one in; a holder that never releases loses it
      // after a minute), so one file's outage never lands in another's request.
      let held: NodeJS.Timeout | null = null;
      const waiting: (() => void)[] = [];
      const release = () => {
        if (held !== null) clearTimeout(held);
        held = null;
        const next = waiting.shift();
        if (next) next();
      };
      const lease = (grant: () => void) => {
        const take = () => {
          held = setTimeout(release, 60_000);
          grant();
        };
        if (held === null) take();
        else waiting.push(take);
      };
      const control = http.createServer((req, res) => {
        if (req.method === 'POST' && req.url === '/lease') {
          lease(() => res.writeHead(204).end());
          return;
        }
        if (req.method === 'POST' && req.url === '/release') {
          release();
          res.writeHead(204).end();
          return;
        }
        const match = /^\/(database|redis)\/(down|up)$/.exec(req.url ?? '');
        const proxy = match ? (match[1] === 'database' ? proxies.postgres : proxies.redis) : undefined;
        if (req.method !== 'POST' || !match || !proxy) {
          res.writeHead(404).end();
          return;
        }
        if (match[2] === 'down') proxy.down();
        else proxy.up();
        res.writeHead(204).end();
      });
      await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
      cleanups.push({ name: 'the fault control server', run: () => closeServer(control) });
      const address = control.address();
      if (address && typeof address === 'object') faultControlUrl = `http://127.0.0.1:${address.port}`;
    }

    // Stripe calls of the Worker go to a local fake (STRIPE_API_BASE is honoured only in the local environment).
    const stripe = await startFakeStripe();
    cleanups.push({ name: 'the fake Stripe', run: () => stripe.close() });
    // Plan billing on the platform's Stripe account (the same fake; tests sign billing events with this secret).
    const stripeVars = {
      STRIPE_API_BASE: stripe.url,
      STRIPE_BILLING_SECRET_KEY: 'sk_test_platformBilling0000',
      STRIPE_BILLING_WEBHOOK_SECRET: 'whsec_platformBillingTest0000',
      STRIPE_BILLING_PRICES: JSON.stringify({ pro: 'price_proMonthly', enterprise: 'price_enterpriseMonthly' }),
    };

    // Custom domains: Cloudflare for SaaS and DNS over HTTPS go to a local fake (the overrides are refused outside
    // the local environment).
    const cloudflare = await startFakeCloudflare();
    cleanups.push({ name: 'the fake Cloudflare', run: () => cloudflare.close() });
    const cloudflareVars = {
      CLOUDFLARE_API_BASE: cloudflare.apiBase,
      DOH_URL: cloudflare.dohUrl,
      CLOUDFLARE_API_TOKEN: cloudflare.token,
      CLOUDFLARE_ZONE_ID: cloudflare.zoneId,
    };
    project.provide('fakeCloudflareUrl', cloudflare.url);

    const onDatabase = (url: string, name: string): string => {
      const moved = new URL(url);
      moved.pathname = `/${name}`;
      return moved.toString();
    };
    const shardVars: Record<string, string> = dedicated
      ? { DATABASE_URLS: JSON.stringify({ 'dedicated-1': onDatabase(main.workerDatabaseUrl, dedicated.name) }) }
      : {};
    const costVars = { LOCAL_PASSWORD_HASH_COST: TEST_PASSWORD_HASH_COST };
    // The SSO tests' OpenID Provider (tests/setup/oidc-idp.ts): a real, certified one, also the social providers'
    // stand-in with the platform's clients registered.
    const idp = await startOidcIdp();
    cleanups.push({ name: 'the OpenID Provider', run: () => idp.close() });
    project.provide('workerVars', {
      ...main.workerVars(),
      ...stripeVars,
      ...cloudflareVars,
      ...shardVars,
      ...costVars,
      ...idp.socialVars,
    });
    project.provide(
      'dedicatedDatabase',
      dedicated ? { ownerUrl: onDatabase(main.ownerDatabaseUrl, dedicated.name), ...dedicated } : null,
    );
    project.provide(
      'faultWorkerVars',
      fault ? { ...fault.workerVars(), ...stripeVars, ...cloudflareVars, ...costVars, ...idp.socialVars } : null,
    );
    project.provide('faultControlUrl', faultControlUrl);
    project.provide('gatewayCounters', {
      neon: `http://127.0.0.1:${main.neon.port}/__eventra/round-trips`,
      upstash: `http://127.0.0.1:${main.upstash.port}/__eventra/round-trips`,
    });
    project.provide('services', description);
    project.provide('ownerDatabaseUrl', main.ownerDatabaseUrl);

    // Webhook deliveries of the Worker go to this loopback receiver (allowed in the local environment only).
    const receiver = await startWebhookReceiver();
    cleanups.push({ name: 'the webhook receiver', run: () => receiver.close() });
    project.provide('webhookReceiverUrl', receiver.url);
    project.provide('oidcIssuer', idp.issuer);
    project.provide('socialIdp', idp.social);
    project.provide('fuzz', fuzzSettings(process.env));
    project.provide('testPasswordHash', await testPasswordHash);
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}
