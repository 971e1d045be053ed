import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import worker from '../../src/index.ts';
import { createTenant, problem, type ProblemBody } from '../support/harness.ts';
import { holdFaultStack, setFault } from '../support/fault.ts';

const faultVars = inject('faultWorkerVars');

/** Calls the Worker with the bindings of the gateway pair that sits behind cuttable TCP proxies. */
async function callFaultStack(url: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(url),
    { ...(env as unknown as Record<string, unknown>), ...faultVars },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

function setDependency(dependency: 'database' | 'redis', state: 'down' | 'up'): Promise<void> {
  return setFault(dependency, state);
}

describe('readiness', () => {
  holdFaultStack();

  it('reports every dependency as ok', async () => {
    const response = await callFaultStack('http://localhost/health/ready');
    expect(response.status).toBe(200);
    const body: { checks: Record<string, { status: string }> } = await response.json();
    expect(body.checks).toMatchObject({
      database: { status: 'ok' },
      redis: { status: 'ok' },
      queues: { status: 'ok' },
    });
  });

  it('answers 500 misconfigured, naming nothing, when a binding is missing', async () => {
    const broken: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>) };
    delete broken.DATABASE_URL;
    const response = await worker.fetch(new Request('http://localhost/health/ready'), broken, createExecutionContext());
    expect(response.status).toBe(500);
    const body = await problem(response);
    expect(body.code).toBe('misconfigured');
    expect(JSON.stringify(body)).not.toContain('DATABASE_URL');
  });
});

describe.skipIf(faultVars === null)('outages (real PostgreSQL and Redis behind cuttable proxies)', () => {
  holdFaultStack();

  it('turns a database outage into 503 problems and recovers when it is back', async () => {
    const tenant = await createTenant();
    await setDependency('database', 'down');
    const ready = await callFaultStack('http://localhost/health/ready');
    expect(ready.status).toBe(503);
    const body = (await problem(ready)) as ProblemBody & { checks: Record<string, { status: string }> };
    expect(body.code).toBe('service_unavailable');
    expect(body.detail).toBe('Unavailable: database.');
    expect(body.checks.database?.status).toBe('fail');
    expect(body.checks.redis?.status).toBe('ok');
    expect(ready.headers.get('retry-after')).toBe('5');

    // A cold tenant host needs the database to resolve: that is a 503 too, not a 500 or a 404.
    const cold = await callFaultStack(tenant.url('/api/v1/openapi.json'));
    expect(cold.status).toBe(503);
    expect((await problem(cold)).detail).toBe('The database is unavailable.');

    await setDependency('database', 'up');
    expect((await callFaultStack('http://localhost/health/ready')).status).toBe(200);
    expect((await callFaultStack(tenant.url('/api/v1/openapi.json'))).status).toBe(200);
  });

  it('turns a Redis outage into a 503 naming redis and recovers when it is back', async () => {
    await setDependency('redis', 'down');
    const ready = await callFaultStack('http://localhost/health/ready');
    expect(ready.status).toBe(503);
    const body = (await problem(ready)) as ProblemBody & { checks: Record<string, { status: string }> };
    expect(body.detail).toBe('Unavailable: redis.');
    expect(body.checks.database?.status).toBe('ok');

    await setDependency('redis', 'up');
    expect((await callFaultStack('http://localhost/health/ready')).status).toBe(200);
  });
});

describe('the log of a database outage', () => {
  it('writes an unreachable database through Logger.repeating (once a second per isolate), and answers 503', async () => {
    const { NeonDbError } = await import('@neondatabase/serverless');
    const { apiErrorOf } = await import('../../src/errors/handler.ts');
    const { createLogger } = await import('../../src/lib/logger.ts');
    const lines: { via: string; level: string; message: string }[] = [];
    const logger = {
      ...createLogger({ test: 'database-outage' }),
      error: (message: string) => lines.push({ via: 'error', level: 'error', message }),
      repeating: (level: string, message: string) => lines.push({ via: 'repeating', level, message }),
    };
    const outage = new Error('Failed query: select 1', {
      cause: new NeonDbError('Error connecting to database: TypeError: fetch failed'),
    });
    const answer = apiErrorOf(outage, logger);
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    expect(lines).toEqual([{ via: 'repeating', level: 'error', message: 'database unavailable' }]);
  });
});
