import { and, eq, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.ts';
import {
  auditLogs,
  memberships,
  organizationDomains,
  organizations,
  refreshTokens,
  roles,
  tenantDirectory,
  userTokens,
  users,
} from '../../src/db/schema/index.ts';
import { events, ticketTypes } from '../../src/db/schema/events.ts';
import { scoped } from '../../src/db/tenant.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import { appDatabase, createTenant, database, randomSlug } from '../support/harness.ts';
import { insertEvent, insertTicketType } from '../support/events.ts';
import { populateTenant, sqlFailure, sqlState, type TenantRows } from '../support/organizations.ts';

/** A tenant's rows in the identity tables and in the event tables. */
type AllTenantRows = TenantRows & { eventId: string; ticketTypeId: string };

async function populateAll(rows: TenantRows): Promise<AllTenantRows> {
  const event = await insertEvent(rows.tenant);
  const ticketType = await insertTicketType(rows.tenant, event.id);
  return { ...rows, eventId: event.id, ticketTypeId: ticketType.id };
}

/** Two tenants, each with rows in every tenant table. */
async function twoTenants(): Promise<{ a: AllTenantRows; b: AllTenantRows }> {
  const [a, b] = await Promise.all([
    createTenant().then(populateTenant).then(populateAll),
    createTenant().then(populateTenant).then(populateAll),
  ]);
  return { a, b };
}

async function roleId(organizationId: string, key: string): Promise<string> {
  const [row] = await database()
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, organizationId), eq(roles.key, key)));
  if (!row) throw new Error(`no role ${key}`);
  return row.id;
}

/** A deliberately unscoped read: no WHERE clause at all, only what row-level security lets through. */
function everything(db: Database, table: string, column: string) {
  return db.execute<{ tenant: string }>(
    sql`select ${sql.identifier(column)}::text as tenant from ${sql.identifier(table)}`,
  );
}

const TENANT_TABLES = [
  'organizations',
  'organization_domains',
  'roles',
  'memberships',
  'refresh_tokens',
  'user_tokens',
  'audit_logs',
  'tenant_directory',
  'events',
  'ticket_types',
] as const;

const tenantColumn = (table: string): string => (table === 'organizations' ? 'id' : 'organization_id');

describe('row-level security under the application role: reads', () => {
  it.each(TENANT_TABLES)("an unscoped query on %s scoped to tenant A returns only A's rows", async (table) => {
    const { a, b } = await twoTenants();
    const app = appDatabase();
    const [result] = await scoped(app, { organizationId: a.tenant.organization.id }, [
      everything(app, table, tenantColumn(table)),
    ]);
    const tenants = result.rows.map((row) => row.tenant);
    expect(tenants.length).toBeGreaterThan(0);
    expect(new Set(tenants)).toEqual(new Set([a.tenant.organization.id]));
    expect(tenants).not.toContain(b.tenant.organization.id);
  });

  it.each(TENANT_TABLES)('an unscoped query on %s with no scope at all returns nothing', async (table) => {
    await twoTenants();
    const result = await everything(appDatabase(), table, tenantColumn(table));
    expect(result.rows).toEqual([]);
  });

  it("shows only the users who are members of tenant A, never B's", async () => {
    const { a, b } = await twoTenants();
    const app = appDatabase();
    const [rows] = await scoped(app, { organizationId: a.tenant.organization.id }, [
      app.select({ id: users.id }).from(users),
    ]);
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set([a.owner.userId, a.member.userId]));
    expect(await appDatabase().select({ id: users.id }).from(users)).toEqual([]);
    expect(rows.map((row) => row.id)).not.toContain(b.owner.userId);
  });

  it('shows exactly the looked-up email besides the members, for registration', async () => {
    const { a, b } = await twoTenants();
    const app = appDatabase();
    const [rows] = await scoped(app, { organizationId: a.tenant.organization.id, lookupEmail: b.member.email }, [
      app.select({ id: users.id }).from(users),
    ]);
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set([a.owner.userId, a.member.userId, b.member.userId]));
    expect(rows.map((row) => row.id)).not.toContain(b.owner.userId);
  });

  it('shows every tenant only in platform mode', async () => {
    const { a, b } = await twoTenants();
    const app = appDatabase();
    const [rows] = await scoped(app, { platform: true }, [everything(app, 'roles', 'organization_id')]);
    const tenants = new Set(rows.rows.map((row) => row.tenant));
    expect(tenants.has(a.tenant.organization.id)).toBe(true);
    expect(tenants.has(b.tenant.organization.id)).toBe(true);
  });
});

interface Fixture {
  a: AllTenantRows;
  b: AllTenantRows;
  /** The id of B's owner role. */
  otherOwnerRoleId: string;
}

interface WriteCase {
  table: string;
  /** Insert a row that belongs to B. */
  insertForOther(db: Database, rows: Fixture): BatchItem<'pg'>;
  /** Change B's row, returning what was changed. */
  updateOther(db: Database, rows: Fixture): BatchItem<'pg'>;
  /** Move one of A's rows into B. */
  moveToOther(db: Database, rows: Fixture): BatchItem<'pg'>;
}

async function fixture(): Promise<Fixture> {
  const { a, b } = await twoTenants();
  return { a, b, otherOwnerRoleId: await roleId(b.tenant.organization.id, 'owner') };
}

const WRITE_CASES: WriteCase[] = [
  {
    table: 'organizations',
    insertForOther: (db) => db.insert(organizations).values({ slug: randomSlug(), name: 'Intruder' }),
    updateOther: (db, { b }) =>
      db
        .update(organizations)
        .set({ name: 'Hijacked' })
        .where(eq(organizations.id, b.tenant.organization.id))
        .returning(),
    moveToOther: (db, { a }) =>
      db.update(organizations).set({ id: crypto.randomUUID() }).where(eq(organizations.id, a.tenant.organization.id)),
  },
  {
    table: 'organization_domains',
    insertForOther: (db, { b }) =>
      db.insert(organizationDomains).values({
        organizationId: b.tenant.organization.id,
        hostname: `${randomSlug('evil')}.example.com`,
        verifiedAt: new Date(),
      }),
    updateOther: (db, { b }) =>
      db
        .update(organizationDomains)
        .set({ verifiedAt: null })
        .where(eq(organizationDomains.id, b.domainId))
        .returning(),
    moveToOther: (db, { a, b }) =>
      db
        .update(organizationDomains)
        .set({ organizationId: b.tenant.organization.id })
        .where(eq(organizationDomains.id, a.domainId)),
  },
  {
    table: 'roles',
    insertForOther: (db, { b }) =>
      db.insert(roles).values({ organizationId: b.tenant.organization.id, key: 'intruder', name: 'Intruder' }),
    updateOther: (db, { b }) =>
      db
        .update(roles)
        .set({ permissions: ['users:manage'] })
        .where(and(eq(roles.organizationId, b.tenant.organization.id), eq(roles.key, 'member')))
        .returning(),
    moveToOther: (db, { a, b }) =>
      db
        .update(roles)
        .set({ organizationId: b.tenant.organization.id })
        .where(and(eq(roles.organizationId, a.tenant.organization.id), eq(roles.key, 'staff'))),
  },
  {
    table: 'memberships',
    insertForOther: (db, { a, b, otherOwnerRoleId }) =>
      db.insert(memberships).values({
        organizationId: b.tenant.organization.id,
        userId: a.member.userId,
        roleId: otherOwnerRoleId,
      }),
    updateOther: (db, { b }) =>
      db
        .update(memberships)
        .set({ status: 'disabled' })
        .where(eq(memberships.organizationId, b.tenant.organization.id))
        .returning(),
    moveToOther: (db, { a, b }) =>
      db
        .update(memberships)
        .set({ organizationId: b.tenant.organization.id })
        .where(and(eq(memberships.organizationId, a.tenant.organization.id), eq(memberships.userId, a.member.userId))),
  },
  {
    table: 'refresh_tokens',
    insertForOther: (db, { b }) =>
      db.insert(refreshTokens).values({
        organizationId: b.tenant.organization.id,
        userId: b.owner.userId,
        familyId: crypto.randomUUID(),
        tokenHash: crypto.randomUUID(),
        expiresAt: new Date(Date.now() + 60_000),
      }),
    updateOther: (db, { b }) =>
      db.update(refreshTokens).set({ revokedAt: new Date() }).where(eq(refreshTokens.id, b.refreshTokenId)).returning(),
    moveToOther: (db, { a, b }) =>
      db
        .update(refreshTokens)
        .set({ organizationId: b.tenant.organization.id })
        .where(eq(refreshTokens.id, a.refreshTokenId)),
  },
  {
    table: 'user_tokens',
    insertForOther: (db, { b }) =>
      db.insert(userTokens).values({
        organizationId: b.tenant.organization.id,
        userId: b.owner.userId,
        purpose: 'reset_password',
        tokenHash: crypto.randomUUID(),
        expiresAt: new Date(Date.now() + 60_000),
      }),
    updateOther: (db, { b }) =>
      db.update(userTokens).set({ usedAt: new Date() }).where(eq(userTokens.id, b.userTokenId)).returning(),
    moveToOther: (db, { a, b }) =>
      db.update(userTokens).set({ organizationId: b.tenant.organization.id }).where(eq(userTokens.id, a.userTokenId)),
  },
  {
    table: 'tenant_directory',
    insertForOther: (db) =>
      db.insert(tenantDirectory).values({ organizationId: crypto.randomUUID(), database: 'evil' }),
    updateOther: (db, { b }) =>
      db
        .update(tenantDirectory)
        .set({ database: 'EVIL_DATABASE_URL' })
        .where(eq(tenantDirectory.organizationId, b.tenant.organization.id))
        .returning(),
    moveToOther: (db, { a }) =>
      db
        .update(tenantDirectory)
        .set({ organizationId: crypto.randomUUID() })
        .where(eq(tenantDirectory.organizationId, a.tenant.organization.id)),
  },
  {
    table: 'events',
    insertForOther: (db, { b }) =>
      db.insert(events).values({
        organizationId: b.tenant.organization.id,
        slug: randomSlug('intruder'),
        title: 'Intruder',
        timezone: 'UTC',
        startsAt: new Date(Date.now() + 60_000),
        endsAt: new Date(Date.now() + 120_000),
      }),
    updateOther: (db, { b }) =>
      db.update(events).set({ status: 'cancelled' }).where(eq(events.id, b.eventId)).returning(),
    moveToOther: (db, { a, b }) =>
      db.update(events).set({ organizationId: b.tenant.organization.id }).where(eq(events.id, a.eventId)),
  },
  {
    table: 'ticket_types',
    insertForOther: (db, { b }) =>
      db.insert(ticketTypes).values({
        organizationId: b.tenant.organization.id,
        eventId: b.eventId,
        name: 'Intruder',
        price: 0,
        currency: 'EUR',
        quantity: 1000,
      }),
    updateOther: (db, { b }) =>
      db.update(ticketTypes).set({ price: 0 }).where(eq(ticketTypes.id, b.ticketTypeId)).returning(),
    // Moving a ticket type alone would also break its composite foreign key; moving it with a matching event id of
    // B's is what an attacker would try, and row-level security refuses it first.
    moveToOther: (db, { a, b }) =>
      db
        .update(ticketTypes)
        .set({ organizationId: b.tenant.organization.id, eventId: b.eventId })
        .where(eq(ticketTypes.id, a.ticketTypeId)),
  },
];

describe('row-level security under the application role: writes', () => {
  it.each(WRITE_CASES.map((c) => [c.table, c] as const))(
    'refuses to insert a row of another tenant into %s (WITH CHECK)',
    async (_table, writeCase) => {
      const rows = await fixture();
      const app = appDatabase();
      const insert = writeCase.insertForOther(app, rows);
      expect(await sqlState(scoped(app, { organizationId: rows.a.tenant.organization.id }, [insert]))).toBe('42501');
      // With no scope at all, nothing may be written either.
      expect(await sqlState(app.batch([writeCase.insertForOther(app, rows)]))).toBe('42501');
    },
  );

  it.each(WRITE_CASES.map((c) => [c.table, c] as const))(
    "cannot change another tenant's row in %s: the update matches nothing",
    async (_table, writeCase) => {
      const rows = await fixture();
      const app = appDatabase();
      const before = await everythingOf(writeCase.table, rows.b.tenant.organization.id);
      const results: unknown[] = await scoped(app, { organizationId: rows.a.tenant.organization.id }, [
        writeCase.updateOther(app, rows),
      ]);
      expect(results).toEqual([[]]);
      expect(await everythingOf(writeCase.table, rows.b.tenant.organization.id)).toEqual(before);
    },
  );

  it.each(WRITE_CASES.map((c) => [c.table, c] as const))(
    'refuses to move a row of tenant A into another tenant in %s (WITH CHECK)',
    async (_table, writeCase) => {
      const rows = await fixture();
      const app = appDatabase();
      expect(
        await sqlState(
          scoped(app, { organizationId: rows.a.tenant.organization.id }, [writeCase.moveToOther(app, rows)]),
        ),
      ).toBe('42501');
    },
  );

  it("cannot change a user who is not a member of the tenant, even one of another tenant's", async () => {
    const { a, b } = await twoTenants();
    const app = appDatabase();
    const [changed] = await scoped(app, { organizationId: a.tenant.organization.id }, [
      app.update(users).set({ name: 'Hijacked' }).where(eq(users.id, b.owner.userId)).returning({ id: users.id }),
    ]);
    expect(changed).toEqual([]);
    const [owner] = await database().select({ name: users.name }).from(users).where(eq(users.id, b.owner.userId));
    expect(owner?.name).not.toBe('Hijacked');
    expect(
      await sqlState(
        scoped(app, { organizationId: a.tenant.organization.id }, [
          app.delete(users).where(eq(users.id, a.member.userId)),
        ]),
      ),
    ).toBe('none');
    const [stillThere] = await database().select({ id: users.id }).from(users).where(eq(users.id, a.member.userId));
    expect(stillThere?.id).toBe(a.member.userId);
  });

  it('refuses to insert an audit row of another tenant', async () => {
    const { a, b } = await twoTenants();
    const app = appDatabase();
    const state = await sqlState(
      scoped(app, { organizationId: a.tenant.organization.id }, [
        app
          .insert(auditLogs)
          .values({ organizationId: b.tenant.organization.id, actorType: 'system', action: 'forged' }),
      ]),
    );
    expect(state).toBe('42501');
  });
});

/** Every row of a tenant in a table, as the owner sees it (to prove nothing changed). */
async function everythingOf(table: string, organizationId: string): Promise<unknown[]> {
  const column = tenantColumn(table);
  const result = await database().execute(
    sql`select * from ${sql.identifier(table)} where ${sql.identifier(column)} = ${organizationId} order by 1`,
  );
  return result.rows;
}

describe('the audit log is append-only', () => {
  it('refuses UPDATE and DELETE to the schema owner (trigger)', async () => {
    const { a } = await twoTenants();
    const owner = database();
    const update = owner.update(auditLogs).set({ action: 'rewritten' }).where(eq(auditLogs.id, a.auditLogId));
    const remove = owner.delete(auditLogs).where(eq(auditLogs.id, a.auditLogId));
    expect(await sqlState(update)).toBe('42501');
    expect(await sqlState(remove)).toBe('42501');
    expect((await sqlFailure(owner.delete(auditLogs).where(eq(auditLogs.id, a.auditLogId))))?.message).toBe(
      'audit_logs is append-only',
    );
    const [row] = await owner.select().from(auditLogs).where(eq(auditLogs.id, a.auditLogId));
    expect(row?.action).toBe('test.fixture');
  });

  it("refuses UPDATE and DELETE to the application role, even on the tenant's own rows", async () => {
    const { a } = await twoTenants();
    const app = appDatabase();
    const scope = { organizationId: a.tenant.organization.id };
    const update = app.update(auditLogs).set({ action: 'rewritten' }).where(eq(auditLogs.id, a.auditLogId));
    expect(await sqlState(scoped(app, scope, [update]))).toBe('42501');
    expect(await sqlState(scoped(app, scope, [app.delete(auditLogs).where(eq(auditLogs.id, a.auditLogId))]))).toBe(
      '42501',
    );
    const [row] = await database().select().from(auditLogs).where(eq(auditLogs.id, a.auditLogId));
    expect(row?.action).toBe('test.fixture');
  });
});

describe('composite foreign keys', () => {
  it('rejects a membership of organization A that points at a role of organization B', async () => {
    const { a, b } = await twoTenants();
    const owner = database();
    const [user] = await owner
      .insert(users)
      .values({ email: `fk-${crypto.randomUUID().slice(0, 8)}@fk.test`, name: 'FK test' })
      .returning({ id: users.id });
    if (!user) throw new Error('user insert returned nothing');
    const foreignRole = await roleId(b.tenant.organization.id, 'owner');
    const insert = owner
      .insert(memberships)
      .values({ organizationId: a.tenant.organization.id, userId: user.id, roleId: foreignRole });
    expect(await sqlState(insert)).toBe('23503');
    const found = await owner.select().from(memberships).where(eq(memberships.userId, user.id));
    expect(found).toEqual([]);
  });

  it('rejects a session of organization A for a user who is only a member of B', async () => {
    const { a, b } = await twoTenants();
    const insert = database()
      .insert(refreshTokens)
      .values({
        organizationId: a.tenant.organization.id,
        userId: b.owner.userId,
        familyId: crypto.randomUUID(),
        tokenHash: await hashToken(crypto.randomUUID()),
        expiresAt: new Date(Date.now() + 60_000),
      });
    expect(await sqlState(insert)).toBe('23503');
  });

  it('rejects a ticket type of organization A that points at an event of organization B', async () => {
    const { a, b } = await twoTenants();
    const insert = database().insert(ticketTypes).values({
      organizationId: a.tenant.organization.id,
      eventId: b.eventId,
      name: 'Cross',
      price: 0,
      currency: 'EUR',
      quantity: 1,
    });
    expect(await sqlState(insert)).toBe('23503');
  });

  it("rejects moving a membership's role to another organization's role", async () => {
    const { a, b } = await twoTenants();
    const update = database()
      .update(memberships)
      .set({ roleId: await roleId(b.tenant.organization.id, 'member') })
      .where(and(eq(memberships.organizationId, a.tenant.organization.id), eq(memberships.userId, a.member.userId)));
    expect(await sqlState(update)).toBe('23503');
  });
});
