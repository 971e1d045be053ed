import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { organizations } from '../../src/db/schema/index.ts';
import { bearer, createMember, createTenant, database, request, tokenFor } from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';

/** Settings are JSON: rows written by older code or by hand must never turn a read into a 500 or widen CORS. */
async function corruptSettings(organizationId: string): Promise<void> {
  await database()
    .update(organizations)
    .set({
      branding: sql`'{"displayName": 5, "logoUrl": ["x"], "primaryColor": "#123456"}'::jsonb`,
      settings: sql`'{"allowedOrigins": "https://shop.example.com,https://other.example", "timezone": "Europe/Paris"}'::jsonb`,
    })
    .where(eq(organizations.id, organizationId));
}

describe('organizations with malformed stored settings', () => {
  it('shows the readable fields on the tenant host instead of failing', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner');
    await corruptSettings(tenant.organization.id);
    const response = await request(tenant.url('/api/v1/organization'), {
      headers: bearer(await tokenFor(tenant, owner)),
    });
    expect(response.status).toBe(200);
    const body: { branding: Record<string, unknown>; settings: Record<string, unknown> } = await response.json();
    expect(body.branding).toEqual({ primaryColor: '#123456' });
    expect(body.settings).toEqual({ timezone: 'Europe/Paris' });
  });

  it('leaves out stored values beyond the documented bounds instead of sending them or failing', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner');
    await database()
      .update(organizations)
      .set({
        branding: { displayName: 'x'.repeat(101), emailSenderName: 'Acme Tickets', primaryColor: 'red' },
        settings: { currency: 'XYZ', locale: 'fr-FR', allowedOrigins: ['https://a.example', 'x'.repeat(301)] },
      })
      .where(eq(organizations.id, tenant.organization.id));
    const response = await request(tenant.url('/api/v1/organization'), {
      headers: bearer(await tokenFor(tenant, owner)),
    });
    expect(response.status).toBe(200);
    const body: { branding: Record<string, unknown>; settings: Record<string, unknown> } = await response.json();
    expect(body.branding).toEqual({ emailSenderName: 'Acme Tickets' });
    expect(body.settings).toEqual({ locale: 'fr-FR' });
  });

  it('lists such an organization for platform administrators', async () => {
    const tenant = await createTenant();
    await corruptSettings(tenant.organization.id);
    const admin = await createPlatformAdmin();
    const response = await request(`${PLATFORM}/api/v1/organizations?q=${tenant.organization.slug}`, {
      headers: bearer(admin.token),
    });
    expect(response.status).toBe(200);
    const body: { data: { slug: string }[] } = await response.json();
    expect(body.data.map((organization) => organization.slug)).toEqual([tenant.organization.slug]);
  });

  it('allows no CORS origin when allowedOrigins is not a list (a string never substring-matches)', async () => {
    const tenant = await createTenant();
    await corruptSettings(tenant.organization.id);
    const response = await request(tenant.url('/api/v1/openapi.json'), {
      headers: { origin: 'https://shop.example.com' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
