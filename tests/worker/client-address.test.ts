import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/lib/client.ts';
import { AUTH_LIMITS } from '../../src/services/auth/limits.ts';
import { post, randomEmail, waitForAudits } from '../support/auth.ts';
import { createMember, createTenant, problem, type TestTenant } from '../support/harness.ts';
import { awayFromWindowEdge } from '../support/plans.ts';

const LOGIN_WINDOW_MS = 15 * 60_000;

function randomHex(length: number): string {
  return crypto.randomUUID().replaceAll('-', '').slice(0, length);
}

/** A random /64 in 3fff::/20 (documentation prefix), as its first four groups. */
function randomNetwork(): string {
  return `3fff:0${randomHex(3)}:${randomHex(4)}:${randomHex(4)}`;
}

function failedLogin(tenant: TestTenant, ip: string): Promise<Response> {
  return post(tenant.url('/api/v1/auth/login'), { email: randomEmail(tenant), password: 'wrong password' }, {}, ip);
}

/** Spends the whole sign-in limit of one client address; every attempt must be an ordinary 401. */
async function drainLogin(tenant: TestTenant, ip: string): Promise<void> {
  for (let attempt = 0; attempt < AUTH_LIMITS.loginClient.limit; attempt++) {
    expect((await failedLogin(tenant, ip)).status).toBe(401);
  }
}

describe('client address keys', () => {
  it('keys an IPv6 address on its /64, the same for every textual form of it', () => {
    const key = '2001:db8:1:2::/64';
    expect(addressKey('2001:db8:1:2::1')).toBe(key);
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(key);
    expect(addressKey('2001:0DB8:0001:0002:0000:0000:0000:0001')).toBe(key);
    expect(addressKey('2001:db8:1:2::1%eth0')).toBe(key);
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('2001:db8::')).toBe('2001:db8::/64');
  });

  it('keys an IPv4 address, mapped into IPv6 or not, on the address itself', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:cb00:7107')).toBe('203.0.113.7');
    expect(addressKey('203.0.113.8')).toBe('203.0.113.8');
  });

  it('has no key for a missing or malformed address', () => {
    for (const bad of [
      null,
      '',
      'not an address',
      '2001:db8::1::2',
      '203.0.113.256',
      '2001:db8::/64',
      '1.2.3.4, 5.6.7.8',
    ]) {
      expect(addressKey(bad)).toBeNull();
    }
  });
});

// A test may first wait out a window edge (up to 15 s) and then spends the per-address sign-in limit (30 scrypt checks).
describe('per-address limits on IPv6', { timeout: 90_000 }, () => {
  it('refuses sign-ins from a second address of a /64 whose limit the first address spent', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const network = randomNetwork();
    await drainLogin(tenant, `${network}::1`);

    const sibling = await failedLogin(tenant, `${network.toUpperCase()}:0:0:0:2%eth0`);
    expect(sibling.status).toBe(429);
    expect((await problem(sibling)).code).toBe('rate_limited');
    // Another /64 has its own bucket.
    expect((await failedLogin(tenant, `${randomNetwork()}::1`)).status).toBe(401);
  }, 90_000);

  it('keeps keying IPv4 clients per address, a mapped IPv6 form being the same client', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const [a, b] = crypto.getRandomValues(new Uint8Array(2));
    const ip = `10.${a}.${b}.7`;
    await drainLogin(tenant, ip);

    expect((await failedLogin(tenant, `::ffff:${ip}`)).status).toBe(429);
    expect((await failedLogin(tenant, `10.${a}.${b}.8`)).status).toBe(401);
  }, 90_000);

  it('keeps in audit rows no address longer than an IP address and the first 512 characters of a user agent', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'staff');
    const response = await post(
      tenant.url('/api/v1/auth/login'),
      { email: member.email, password: 'wrong password' },
      { 'user-agent': `agent/${'u'.repeat(600)}` },
      '1'.repeat(46),
    );
    expect(response.status).toBe(401);
    const [row] = await waitForAudits(tenant.organization.id, 'auth.login_failed');
    expect(row?.ip).toBeNull();
    expect(row?.userAgent).toHaveLength(512);
  });

  it('answers a malformed CF-Connecting-IP like a request without one, never with a 5xx', async () => {
    const tenant = await createTenant();
    const response = await failedLogin(tenant, 'not an address');
    expect(response.status).toBe(401);
  });
});
