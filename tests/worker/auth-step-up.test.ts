import { describe, expect, it } from 'vitest';
import { STEP_UP_MAX_AGE_SECONDS } from '../../src/middleware/auth.ts';
import { createMember, createTenant, problem, tokenFor, type TestMember, type TestTenant } from '../support/harness.ts';
import { call, createCustomRole, randomEmail } from '../support/users.ts';
import { newHook } from '../support/webhooks.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** A sign-in just past the step-up window: the session is valid, the sign-in too old for a sensitive change. */
const staleAuthTime = () => nowSeconds() - STEP_UP_MAX_AGE_SECONDS - 60;
/** A sign-in well inside the window (not "now": the window is a duration, not only fresh tokens). */
const recentAuthTime = () => nowSeconds() - STEP_UP_MAX_AGE_SECONDS + 60;

interface World {
  tenant: TestTenant;
  owner: TestMember;
  /** A fresh token of the owner, for the setup. */
  setupToken: string;
}

interface SensitiveCase {
  name: string;
  method: 'POST' | 'PUT' | 'DELETE';
  /** Builds what the request acts on and returns its path and body. */
  prepare: (world: World) => Promise<{ path: string; body?: unknown }>;
  /** The status of the request that passes step-up. */
  passes: number;
  /** Reads the state the refused request must not have changed (compared before and after it). */
  state: (world: World, path: string) => Promise<unknown>;
}

async function read(world: World, path: string): Promise<unknown> {
  const response = await call(world.tenant, 'GET', path, { token: world.setupToken });
  return { status: response.status, body: await response.text() };
}

async function endpoint(world: World): Promise<string> {
  const hook = await newHook();
  const response = await call(world.tenant, 'POST', '/api/v1/webhooks', {
    token: world.setupToken,
    body: { url: hook.url, description: 'before' },
  });
  expect(response.status).toBe(201);
  return (await response.json<{ id: string }>()).id;
}

/** The endpoint as GET shows it, without the secret hint that a rotation changes (compared whole below). */
const endpointState = (world: World, path: string) => read(world, path.replace(/\/rotate-secret$/, ''));

const CASES: SensitiveCase[] = [
  {
    name: 'PUT /api/v1/organization/payment-settings',
    method: 'PUT',
    prepare: () => Promise.resolve({ path: '/api/v1/organization/payment-settings', body: { manualEnabled: true } }),
    passes: 200,
    state: (world) => read(world, '/api/v1/organization/payment-settings'),
  },
  {
    name: 'POST /api/v1/webhooks',
    method: 'POST',
    prepare: async () => ({ path: '/api/v1/webhooks', body: { url: (await newHook()).url } }),
    passes: 201,
    state: (world) => read(world, '/api/v1/webhooks'),
  },
  {
    name: 'PUT /api/v1/webhooks/{id}',
    method: 'PUT',
    prepare: async (world) => ({ path: `/api/v1/webhooks/${await endpoint(world)}`, body: { description: 'after' } }),
    passes: 200,
    state: endpointState,
  },
  {
    name: 'DELETE /api/v1/webhooks/{id}',
    method: 'DELETE',
    prepare: async (world) => ({ path: `/api/v1/webhooks/${await endpoint(world)}` }),
    passes: 204,
    state: endpointState,
  },
  {
    name: 'POST /api/v1/webhooks/{id}/rotate-secret',
    method: 'POST',
    prepare: async (world) => ({ path: `/api/v1/webhooks/${await endpoint(world)}/rotate-secret` }),
    passes: 200,
    state: endpointState,
  },
  {
    name: 'POST /api/v1/roles',
    method: 'POST',
    prepare: () =>
      Promise.resolve({
        path: '/api/v1/roles',
        body: { key: 'box-office', name: 'Box', permissions: ['events:read'] },
      }),
    passes: 201,
    state: (world) => read(world, '/api/v1/roles'),
  },
  {
    name: 'PUT /api/v1/roles/{id}',
    method: 'PUT',
    prepare: async (world) => {
      const role = await createCustomRole(world.tenant, 'door', ['events:read']);
      return { path: `/api/v1/roles/${role.id}`, body: { permissions: ['events:read', 'bookings:read'] } };
    },
    passes: 200,
    state: (world) => read(world, '/api/v1/roles'),
  },
  {
    name: 'DELETE /api/v1/roles/{id}',
    method: 'DELETE',
    prepare: async (world) => {
      const role = await createCustomRole(world.tenant, 'door', ['events:read']);
      return { path: `/api/v1/roles/${role.id}` };
    },
    passes: 204,
    state: (world) => read(world, '/api/v1/roles'),
  },
  {
    name: 'POST /api/v1/users (inviting an owner)',
    method: 'POST',
    prepare: (world) =>
      Promise.resolve({
        path: '/api/v1/users',
        body: { email: randomEmail(world.tenant), name: 'New Owner', role: 'owner' },
      }),
    passes: 201,
    state: (world) => read(world, '/api/v1/users?limit=100'),
  },
  {
    name: 'PUT /api/v1/users/{id} (a role change)',
    method: 'PUT',
    prepare: async (world) => {
      const member = await createMember(world.tenant, 'member');
      return { path: `/api/v1/users/${member.userId}`, body: { role: 'organizer' } };
    },
    passes: 200,
    state: read,
  },
  {
    name: 'PUT /api/v1/users/{id} (making an owner)',
    method: 'PUT',
    prepare: async (world) => {
      const member = await createMember(world.tenant, 'admin');
      return { path: `/api/v1/users/${member.userId}`, body: { role: 'owner' } };
    },
    passes: 200,
    state: read,
  },
  {
    name: 'DELETE /api/v1/users/{id}',
    method: 'DELETE',
    prepare: async (world) => {
      const member = await createMember(world.tenant, 'member');
      return { path: `/api/v1/users/${member.userId}` };
    },
    passes: 204,
    state: (world, path) => read(world, path),
  },
];

async function world(): Promise<World> {
  // Webhooks and custom roles are features of the pro plan.
  const tenant = await createTenant({ plan: 'pro' });
  const owner = await createMember(tenant, 'owner');
  return { tenant, owner, setupToken: await tokenFor(tenant, owner) };
}

describe('step-up on sensitive routes (requireRecentAuth)', () => {
  it.each(CASES)('$name refuses a stale sign-in with 401 and changes nothing', async (sensitive) => {
    const w = await world();
    const { path, body } = await sensitive.prepare(w);
    const before = await sensitive.state(w, path);
    const stale = await tokenFor(w.tenant, w.owner, { authTime: staleAuthTime() });
    const response = await call(w.tenant, sensitive.method, path, { token: stale, body });
    expect(response.status).toBe(401);
    expect((await problem(response)).code).toBe('reauthentication_required');
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A more recent authentication is ' +
        `required.", max_age=${STEP_UP_MAX_AGE_SECONDS}`,
    );
    expect(await sensitive.state(w, path)).toEqual(before);
  });

  it.each(CASES)('$name lets a sign-in within the window through', async (sensitive) => {
    const w = await world();
    const { path, body } = await sensitive.prepare(w);
    const recent = await tokenFor(w.tenant, w.owner, { authTime: recentAuthTime() });
    const response = await call(w.tenant, sensitive.method, path, { token: recent, body });
    expect(response.status).toBe(sensitive.passes);
  });

  it('checks permissions before the sign-in age: a stale member without the permission gets 403', async () => {
    const w = await world();
    const member = await createMember(w.tenant, 'member');
    const stale = await tokenFor(w.tenant, member, { authTime: staleAuthTime() });
    const response = await call(w.tenant, 'PUT', '/api/v1/organization/payment-settings', {
      token: stale,
      body: { manualEnabled: true },
    });
    expect(response.status).toBe(403);
    expect((await problem(response)).code).toBe('forbidden');
  });

  it('leaves reads and other writes to stale sessions', async () => {
    const w = await world();
    const stale = await tokenFor(w.tenant, w.owner, { authTime: staleAuthTime() });
    for (const path of [
      '/api/v1/organization/payment-settings',
      '/api/v1/webhooks',
      '/api/v1/roles',
      '/api/v1/users',
    ]) {
      expect((await call(w.tenant, 'GET', path, { token: stale })).status).toBe(200);
    }
    const id = await endpoint(w);
    const test = await call(w.tenant, 'POST', `/api/v1/webhooks/${id}/test`, { token: stale });
    expect(test.status).toBe(202);
  });

  it('documents the step-up and its 401 on every sensitive operation', async () => {
    const w = await world();
    const response = await call(w.tenant, 'GET', '/api/v1/openapi.json');
    const document = await response.json<{
      paths: Record<
        string,
        Record<string, { description: string; responses: Record<string, { description: string }> }>
      >;
    }>();
    for (const sensitive of CASES) {
      const [, path = ''] = /^[A-Z]+ (\S+)/.exec(sensitive.name) ?? [];
      const operation = document.paths[path]?.[sensitive.method.toLowerCase()];
      expect(operation?.description, sensitive.name).toContain('**Step-up:**');
      expect(operation?.responses['401']?.description, sensitive.name).toContain('`reauthentication_required`');
    }
  });
});
