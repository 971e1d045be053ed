import { afterEach, beforeEach, expect, inject } from 'vitest';

/*
 * The fault stack (a second gateway pair behind cuttable TCP proxies, tests/setup/global.ts) is shared by every test
 * file of the run, and files run in parallel: a file whose tests use it holds it for each test, so another file's
 * outage never lands in its requests, and every test leaves the database and Redis up.
 */

async function control(path: string): Promise<void> {
  const response = await fetch(`${inject('faultControlUrl') ?? ''}${path}`, { method: 'POST' });
  expect(response.status).toBe(204);
}

/** Cuts or restores the fault stack's database or Redis (hold it first: holdFaultStack). */
export function setFault(dependency: 'database' | 'redis', state: 'down' | 'up'): Promise<void> {
  return control(`/${dependency}/${state}`);
}

/** Runs `use` holding the fault stack, and restores the database and Redis after it. */
export async function withFaultStack<T>(use: () => Promise<T>): Promise<T> {
  await control('/lease');
  try {
    return await use();
  } finally {
    try {
      await setFault('database', 'up');
      await setFault('redis', 'up');
    } finally {
      await control('/release');
    }
  }
}

/** Registers hooks that hold the fault stack for each test of the calling describe block, and restore it after. */
export function holdFaultStack(): void {
  if (inject('faultControlUrl') === null) return;
  beforeEach(async () => {
    await control('/lease');
  });
  afterEach(async () => {
    try {
      await setFault('database', 'up');
      await setFault('redis', 'up');
    } finally {
      await control('/release');
    }
  });
}
