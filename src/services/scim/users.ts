import { and, asc, count, eq, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { memberships, roles, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { normalizeEmail } from '../auth/account.ts';
import { provisionMember } from '../users/invite.ts';
import { memberColumns, memberNotFound, selectMember, type MemberRow } from '../users/members.ts';
import { removeMember } from '../users/remove.ts';
import { changeMember } from '../users/update.ts';
import { parseUserFilter } from './filter.ts';
import { SCIM_DEFAULT_ROLE, scimList, scimRefusal, toScimUser, type ScimList, type ScimUser } from './resources.ts';

/*
 * SCIM Users: the organization's members, provisioned and deprovisioned by its identity provider with an API key that
 * holds `scim:provision` (and the permissions of the roles it gives). Every change goes through the members API's own
 * services (provisionMember, updateMember and its changeMember, removeMember), so the rules are theirs: the key never
 * manages a member whose role holds a permission it lacks, nor an owner; the last active owner stays; a disable or a
 * removal ends the member's sessions at once; seats count against the plan's quota. Each change is audited as the key.
 */

/** What an IdP sends of a user (Okta's and Entra ID's attributes; anything else is accepted and ignored). */
export interface ScimUserInput {
  userName: string;
  externalId?: string | null | undefined;
  displayName?: string | undefined;
  name?:
    { formatted?: string | undefined; givenName?: string | undefined; familyName?: string | undefined } | undefined;
  emails?: { value: string; primary?: boolean | undefined; type?: string | undefined }[] | undefined;
  active?: boolean | string | undefined;
}

function origin(ctx: ServiceContext): string {
  return ctx.origin ?? '';
}

/** The members API's rule for an address (POST /api/v1/users: `z.email()`, at most 254 characters). */
const Email = z.email().max(254);

/** The address a SCIM user signs in with: the userName when it is one (Okta, Entra ID's UPN), else the work email. */
function emailOf(input: Pick<ScimUserInput, 'userName' | 'emails'>): string {
  const candidates = [
    input.userName,
    ...(input.emails ?? []).filter((email) => email.primary === true).map((email) => email.value),
    ...(input.emails ?? []).map((email) => email.value),
  ];
  const email = candidates.find((candidate) => Email.safeParse(candidate.trim()).success);
  if (email === undefined) {
    throw scimRefusal('invalidValue', 'userName or a work email must be an email address.');
  }
  return normalizeEmail(email.trim());
}

/** The display name from whichever of displayName, name.formatted or the given and family names the IdP sent. */
function nameOf(input: Pick<ScimUserInput, 'displayName' | 'name'>, fallback: string): string {
  const parts = [input.name?.givenName, input.name?.familyName].filter((part) => part !== undefined && part !== '');
  const name = input.displayName ?? input.name?.formatted ?? (parts.length > 0 ? parts.join(' ') : undefined);
  const trimmed = name?.trim() ?? '';
  return (trimmed === '' ? fallback : trimmed).slice(0, 200);
}

/** SCIM booleans as IdPs send them: Entra ID sends "True" and "False" in PATCH operations. */
export function scimBoolean(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw scimRefusal('invalidValue', `${path} must be a boolean.`);
}

function memberQuery(ctx: ServiceContext, where: SQL | undefined) {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const condition = and(eq(memberships.organizationId, tenant.id), where);
  return {
    rows: (offset: number, limit: number) =>
      db
        .select(memberColumns)
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
        .where(condition)
        .orderBy(asc(memberships.createdAt), asc(memberships.userId))
        .offset(offset)
        .limit(limit),
    total: db
      .select({ total: count() })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(condition),
  };
}

/**
 * GET /scim/v2/Users: the members in membership order, `startIndex` (1-based) and `count`, optionally filtered on
 * one attribute (filter.ts). One database round trip (the page and the total in one batch).
 */
export async function listScimUsers({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { filter?: string | undefined; startIndex: number; count: number };
}): Promise<ScimList<ScimUser>> {
  const tenant = requireTenant(ctx);
  const filter = input.filter === undefined ? undefined : parseUserFilter(input.filter);
  let where: SQL | undefined;
  if (filter?.attribute === 'externalId') where = eq(memberships.scimExternalId, filter.value);
  else if (filter !== undefined) where = eq(users.email, normalizeEmail(filter.value));
  const query = memberQuery(ctx, where);
  const db = ctx.services.db;
  const [rows, [total]] = await scoped(db, { organizationId: tenant.id }, [
    query.rows(input.startIndex - 1, input.count),
    query.total,
  ]);
  return scimList(
    rows.map((row) => toScimUser(row, origin(ctx))),
    total?.total ?? 0,
    input.startIndex,
  );
}

async function readMember(ctx: ServiceContext, id: string): Promise<MemberRow> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [selectMember(db, tenant.id, id)]);
  if (row === undefined) throw memberNotFound();
  return row;
}

/** GET /scim/v2/Users/{id}: one member (404 for anyone else's). One database round trip. */
export async function getScimUser({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<ScimUser> {
  return toScimUser(await readMember(ctx, input.id), origin(ctx));
}

/**
 * POST /scim/v2/Users: provisions a member with the default role (provisionMember: `invited` until their first SSO
 * sign-in, `disabled` when the IdP says not active). A member already here answers 409 `uniqueness`, as RFC 7644
 * asks, so the IdP matches instead.
 */
export async function createScimUser({ ctx, input }: { ctx: ServiceContext; input: ScimUserInput }): Promise<ScimUser> {
  const email = emailOf(input);
  try {
    const member = await provisionMember({
      ctx,
      input: {
        email,
        name: nameOf(input, email),
        role: SCIM_DEFAULT_ROLE,
        externalId: input.externalId ?? null,
        active: input.active === undefined ? true : scimBoolean(input.active, 'active'),
      },
    });
    return toScimUser(member, origin(ctx));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'conflict') throw scimRefusal('uniqueness', error.detail ?? '');
    throw error;
  }
}

/** The changes of a PUT or PATCH, applied by updateMember (which refuses what the members API refuses). */
interface UserChange {
  name?: string | undefined;
  active?: boolean | undefined;
  externalId?: string | null | undefined;
}

/**
 * The change applied to the member as read (changeMember: the members API's rules and write batch, without reading
 * the member again), answered from the row as written: a PUT or PATCH is the read and one write, as
 * PUT /api/v1/users/{id} is.
 */
async function applyChange(ctx: ServiceContext, current: MemberRow, change: UserChange): Promise<ScimUser> {
  const { row } = await changeMember(ctx, current, null, {
    name: change.name,
    status: change.active === undefined ? undefined : change.active ? 'active' : 'disabled',
    scim: { externalId: change.externalId },
  });
  return toScimUser(row, origin(ctx));
}

/** The address is the account's, shared with other organizations: an IdP cannot change it (400 `mutability`). */
function assertSameEmail(current: MemberRow, email: string): void {
  if (email !== current.email) {
    throw scimRefusal(
      'mutability',
      "userName (the member's email) cannot change over SCIM: the account and its address are the person's own.",
    );
  }
}

/** PUT /scim/v2/Users/{id}: the user replaced: its name, `active` and `externalId` (the email must stay). */
export async function replaceScimUser({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; user: ScimUserInput };
}): Promise<ScimUser> {
  const current = await readMember(ctx, input.id);
  assertSameEmail(current, emailOf(input.user));
  return applyChange(ctx, current, {
    name: nameOf(input.user, current.name),
    active: input.user.active === undefined ? true : scimBoolean(input.user.active, 'active'),
    externalId: input.user.externalId ?? null,
  });
}

export interface PatchOperation {
  op: string;
  path?: string | undefined;
  value?: unknown;
}

const NAME_PATHS = new Set(['displayname', 'name.formatted', 'name.givenname', 'name.familyname']);

/**
 * PATCH /scim/v2/Users/{id} (RFC 7644 3.5.2): `add`/`replace` of `active`, `externalId`, the name attributes, with
 * a path (Entra ID: `{"op":"Replace","path":"active","value":"False"}`) or as an object without one (Okta:
 * `{"op":"replace","value":{"active":false}}`); `remove` of `externalId`. The userName (the sign-in address) must
 * stay (400 `mutability`); attributes this API does not keep (other emails, title, phone numbers, the enterprise
 * extension) are accepted and ignored.
 */
export async function patchScimUser({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; operations: PatchOperation[] };
}): Promise<ScimUser> {
  const current = await readMember(ctx, input.id);
  const change: UserChange = {};
  const names: Record<string, string> = {};
  const set = (path: string, value: unknown) => {
    const key = path.toLowerCase();
    if (key === 'active') change.active = scimBoolean(value, 'active');
    else if (key === 'externalid') {
      if (value !== null && typeof value !== 'string')
        throw scimRefusal('invalidValue', 'externalId must be a string.');
      change.externalId = value === '' ? null : value;
    } else if (NAME_PATHS.has(key)) {
      if (typeof value !== 'string') throw scimRefusal('invalidValue', `${path} must be a string.`);
      names[key] = value;
    } else if (key === 'name' && typeof value === 'object' && value !== null) {
      for (const [part, text] of Object.entries(value)) set(`name.${part}`, text);
    } else if (key === 'username') {
      if (typeof value !== 'string') throw scimRefusal('invalidValue', 'userName must be a string.');
      assertSameEmail(current, emailOf({ userName: value }));
    }
    // Anything else (other emails, title, phone numbers, the enterprise extension) is not kept here: ignored.
  };
  for (const operation of input.operations) {
    const op = operation.op.toLowerCase();
    if (op === 'remove') {
      if (operation.path?.toLowerCase() === 'externalid') change.externalId = null;
      continue;
    }
    if (op !== 'add' && op !== 'replace') throw scimRefusal('invalidSyntax', `Unknown op "${operation.op}".`);
    if (operation.path === undefined) {
      if (typeof operation.value !== 'object' || operation.value === null || Array.isArray(operation.value)) {
        throw scimRefusal('invalidSyntax', 'An operation without a path needs an object value.');
      }
      for (const [path, value] of Object.entries(operation.value)) set(path, value);
    } else {
      set(operation.path, operation.value);
    }
  }
  if (Object.keys(names).length > 0) {
    change.name = nameOf(
      {
        displayName: names.displayname,
        name: {
          formatted: names['name.formatted'],
          givenName: names['name.givenname'],
          familyName: names['name.familyname'],
        },
      },
      current.name,
    );
  }
  return applyChange(ctx, current, change);
}

/** DELETE /scim/v2/Users/{id}: removeMember (the membership goes, the sessions end; the global account stays). */
export async function deleteScimUser({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  await removeMember({ ctx, input });
}
