// `node bench/mfa-sign-in.ts`: what a sign-in with a second factor costs (issue #14), on the bench stack (wrangler dev,
// the gateways, real PostgreSQL and Redis) over a fresh database with the demo organizations. A demo owner enrols
// TOTP (its codes computed here by otpauth, not the Worker's library), then signs in `--runs` times (at most 10: one
// recovery code per sign-in, since a TOTP step's code works once) with the password step and the second step, each
// request traced for its round trips; a password-only sign-in of a member without MFA runs beside it as the yardstick.
// Prints medians (ms) and the round trips of each step. Sequential, one connection: latency, not throughput.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as OTPAuth from 'otpauth';
import pg from 'pg';
import { DEMO_PASSWORD, demoEmail } from '../drizzle/seed.ts';
import { call, roundTrips, startBenchStack, table, type CallOptions } from './stack.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Math.min(10, Math.max(1, Number(values.runs)));
const DATABASE = 'eventra_bench_mfa';
const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function freshDatabase(): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${DATABASE} with (force)`);
    await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

const stack = await startBenchStack(await freshDatabase());
try {
  const host = 'acme.localhost';
  let address = 0;
  const timed = async (options: Omit<CallOptions, 'port' | 'host'>, expected: number) => {
    const trace = randomUUID();
    address += 1;
    const started = performance.now();
    const response = await call({
      ...options,
      port: stack.port,
      host,
      headers: { 'x-request-id': trace, 'cf-connecting-ip': `198.51.100.${address % 250}`, ...options.headers },
    });
    const ms = performance.now() - started;
    if (response.status !== expected) {
      throw new Error(`${options.method} ${options.path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return { body: response.body as Record<string, unknown>, ms, trips: await roundTrips(stack, trace) };
  };
  const login = (email: string) =>
    timed({ method: 'POST', path: '/api/v1/auth/login', body: { email, password: DEMO_PASSWORD } }, 200);

  // Enrol the owner: a fresh sign-in is the step-up the enrolment needs.
  const owner = demoEmail('owner', 'acme');
  const first = await login(owner);
  const auth = { authorization: `Bearer ${String(first.body['accessToken'])}` };
  const started = await timed({ method: 'POST', path: '/api/v1/auth/mfa/totp', headers: auth }, 201);
  const totp = OTPAuth.URI.parse(String(started.body['otpauthUri']));
  const confirmed = await timed(
    { method: 'POST', path: '/api/v1/auth/mfa/totp/confirm', headers: auth, body: { code: totp.generate() } },
    200,
  );
  const recoveryCodes = confirmed.body['recoveryCodes'] as string[];

  const rows: { step: string; ms: number[]; database: Set<number>; redis: Set<number> }[] = [
    { step: 'password only (member without MFA): POST /auth/login', ms: [], database: new Set(), redis: new Set() },
    { step: 'MFA step 1: POST /auth/login (answers mfaRequired)', ms: [], database: new Set(), redis: new Set() },
    { step: 'MFA step 2: POST /auth/mfa/verify (recovery code)', ms: [], database: new Set(), redis: new Set() },
    { step: 'MFA sign-in, both steps', ms: [], database: new Set(), redis: new Set() },
  ];
  const record = (index: number, sample: { ms: number; trips: { database: number; redis: number } }) => {
    const row = rows[index];
    if (row === undefined) return;
    row.ms.push(sample.ms);
    row.database.add(sample.trips.database);
    row.redis.add(sample.trips.redis);
  };
  // One warm-up of each path, not counted.
  await login(demoEmail('member', 'acme'));
  for (let run = 0; run < runs; run += 1) {
    record(0, await login(demoEmail('member', 'acme')));
    const step1 = await login(owner);
    if (step1.body['mfaRequired'] !== true) throw new Error('the owner was not asked for a second factor');
    const step2 = await timed(
      {
        method: 'POST',
        path: '/api/v1/auth/mfa/verify',
        body: { mfaToken: step1.body['mfaToken'], method: 'recovery_code', code: recoveryCodes[run] },
      },
      200,
    );
    record(1, step1);
    record(2, step2);
    record(3, {
      ms: step1.ms + step2.ms,
      trips: {
        database: step1.trips.database + step2.trips.database,
        redis: step1.trips.redis + step2.trips.redis,
      },
    });
  }
  console.log(`\nSign-in with a second factor: ${runs} runs, sequential, medians (bench/mfa-sign-in.ts)\n`);
  console.log(
    table([
      ['step', 'p50 ms', 'min ms', 'max ms', 'DB round trips', 'Redis round trips'],
      ...rows.map((row) => [
        row.step,
        median(row.ms).toFixed(1),
        Math.min(...row.ms).toFixed(1),
        Math.max(...row.ms).toFixed(1),
        [...row.database].join('/'),
        [...row.redis].join('/'),
      ]),
    ]),
  );
} finally {
  await stack.close();
}
