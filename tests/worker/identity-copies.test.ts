import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { SHARED_DATABASE } from '../../src/db/client.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { otherDatabases, writeIdentityCopies } from '../../src/services/auth/identity-copies.ts';
import { createMember, createTenant, otherDatabases as dedicatedCount } from '../support/harness.ts';

// The end-to-end behaviour (a password change or a platform revocation reaching a moved organization) is tested in
// auth-account-password, platform-users and platform-data-rights; here, the two edges the routes never take in a run
// that has a dedicated database.
describe('the copies of an account on the other databases (src/services/auth/identity-copies.ts)', () => {
  const bindings = () => readBindings(env as unknown as Record<string, unknown>);

  it('counts the shared database as the request’s own when none is named', () => {
    const others = otherDatabases(bindings(), undefined);
    expect(others).not.toContain(SHARED_DATABASE);
    expect(others).toHaveLength(dedicatedCount());
    if (dedicatedCount() > 0) {
      const [dedicated] = others as [string];
      expect(otherDatabases(bindings(), dedicated)).toEqual([SHARED_DATABASE]);
    }
  });

  it('writes nothing and ends nothing where the deployment has the shared database only', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const single = { ...bindings(), DATABASE_URLS: undefined };
    expect(otherDatabases(single, undefined)).toEqual([]);
    const written = await writeIdentityCopies(single, {
      userId: member.userId,
      except: undefined,
      change: { endSessions: true },
    });
    expect(written).toEqual({ sessions: 0, tenants: [] });
  });
});
