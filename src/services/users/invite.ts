import { and, eq, sql } from 'drizzle-orm';
import { memberships, organizations, roles, userTokens, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { takeToken, type LimitRule } from '../../lib/rate-limit.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import { SELF_REGISTRATION_ROLE } from '../auth/permissions.ts';
import { isPlanLimit, planLimitError, quotaGuard } from '../plans/quotas.ts';
import { generateOpaqueToken, hashToken } from '../auth/tokens.ts';
import { tenantLink } from '../email/links.ts';
import { invitationEmail } from '../email/messages.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { isoText } from '../outbox/views.ts';
import { assertAuthority, callerOf } from '../roles/authority.ts';
import { emailBranding, sendLater } from '../email/branding.ts';
import { databaseError, failedGuard, FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION } from './guards.ts';
import { roleUnchanged, shareRole } from './locks.ts';
import { shownName, toMember, type Member, type ScimMemberRow } from './members.ts';

export interface InviteMemberInput {
  email: string;
  /** This organization's name for the member (memberships.display_name); also the account's name when it is new. */
  name: string;
  /** Role key. */
  role: string;
}

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Invitations send email to addresses the caller chooses (OWASP API6): a budget per organization. */
export const INVITATION_LIMIT = { name: 'invitations', limit: 50, window: '1 h' } as const satisfies LimitRule;
export const INVITATION_PATH = '/accept-invitation';

const ALREADY_MEMBER = 'This email address already belongs to a member of this organization.';

/**
 * Invites a person: the global user when the email is new (no password yet; an existing account is reused as is),
 * an `invited` membership carrying the given name as this organization's display name, a hashed single-use
 * invitation token (7 days), the audit row and the `membership.created` event (outbox), in one batch. The email
 * goes out after the response. The invitee accepts with POST /api/v1/auth/reset-password and the token, which sets
 * the password (an existing account proves its current one instead), verifies the email and activates the
 * membership.
 *
 * The answer is the same whether or not the address already has an account: the given name, `emailVerified: false`,
 * no last sign-in. An existing account's own name and verification are never read here, so they cannot leak to the
 * inviting organization (OWASP API3).
 *
 * A staff role (anything but `member`) takes a seat of the plan's `members` quota, checked in the write batch after
 * a per-organization lock: 403 `plan_limit` when the seats are taken.
 */
export async function inviteMember({ ctx, input }: { ctx: ServiceContext; input: InviteMemberInput }): Promise<Member> {
  const tenant = requireTenant(ctx);
  await takeToken(ctx.services.redis, ctx.logger, INVITATION_LIMIT, tenant.id, {
    failClosed: true,
    record: ctx.recordRateLimits,
  });
  return (await inviteOnce(ctx, input, null)).member;
}

/** How an identity provider adds a member over SCIM (src/services/scim): its id for them, and whether they start. */
export interface Provisioning {
  externalId: string | null;
  active: boolean;
}

/**
 * A member added by the organization's identity provider over SCIM: as an invitation, but without the invitation
 * (no token, no email, so no invitation budget): the membership waits, `invited`, for the person's first sign-in
 * through the organization's SSO, which activates it (src/services/sso/sign-in.ts), or starts `disabled` when the
 * IdP says the person is not active. The IdP's id is kept as the SCIM `externalId`. Audited as
 * `membership.provisioned`; the answer is the member with its `scimExternalId`.
 */
export async function provisionMember({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: InviteMemberInput & Provisioning;
}): Promise<ScimMemberRow> {
  const { externalId, active, ...invitation } = input;
  return (await inviteOnce(ctx, invitation, { externalId, active })).row;
}

/** A new membership: as the members API shows it, and as SCIM does (with the role's id and the row's times). */
interface Invited {
  member: Member;
  row: ScimMemberRow;
}

async function inviteOnce(
  ctx: ServiceContext,
  input: InviteMemberInput,
  provisioning: Provisioning | null,
): Promise<Invited> {
  try {
    return await invite(ctx, input, provisioning);
  } catch (error) {
    // A new email registered by a concurrent request between our read and our write: try once more, as an existing user.
    const info = databaseError(error);
    if (info?.code === FOREIGN_KEY_VIOLATION && info.constraint === 'memberships_user_id_users_id_fk') {
      return invite(ctx, input, provisioning);
    }
    throw error;
  }
}

async function invite(
  ctx: ServiceContext,
  input: InviteMemberInput,
  provisioning: Provisioning | null,
): Promise<Invited> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const email = input.email.trim().toLowerCase();
  const name = input.name.trim();
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id, lookupEmail: email };

  const [[role], [existing], [inviter], [organization]] = await scoped(db, scope, [
    db
      .select({ id: roles.id, key: roles.key, name: roles.name, permissions: roles.permissions })
      .from(roles)
      .where(and(eq(roles.organizationId, tenant.id), eq(roles.key, input.role)))
      .limit(1),
    db
      .select({ id: users.id, membershipStatus: memberships.status })
      .from(users)
      .leftJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .where(eq(users.email, email))
      .limit(1),
    db
      .select({ name: shownName })
      .from(users)
      .innerJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .where(eq(users.id, caller.userId))
      .limit(1),
    db
      .select({ name: organizations.name, branding: organizations.branding })
      .from(organizations)
      .where(eq(organizations.id, tenant.id))
      .limit(1),
  ]);

  if (!role) {
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: [{ pointer: '/body/role', message: 'No role with this key in this organization' }],
    });
  }
  assertAuthority(caller, role);
  if (existing?.membershipStatus) throw new ApiError('conflict', { detail: ALREADY_MEMBER });

  const userId = existing?.id ?? crypto.randomUUID();
  const invitation = { id: crypto.randomUUID(), token: generateOpaqueToken('inv') };
  const expiresAt = new Date(Date.now() + INVITATION_TTL_MS);
  const status = provisioning?.active === false ? 'disabled' : 'invited';

  const member = (createdAt: Date) =>
    toMember({
      id: userId,
      email,
      name,
      roleKey: role.key,
      roleName: role.name,
      status,
      emailVerifiedAt: null,
      lastLoginAt: null,
      createdAt,
    });
  // The member the answer shows; its creation time is the membership row's, read in SQL after the insert.
  const { createdAt: _createdAt, ...memberFields } = member(new Date(0));

  let membership: { createdAt: Date; updatedAt: Date } | undefined;
  try {
    [, , , , , [membership]] = await scoped(db, scope, [
      // The plan's quota of staff seats (a customer's `member` role takes none): serialized, counted at write time.
      ...quotaGuard(db, tenant, 'members', { enforce: role.key !== SELF_REGISTRATION_ROLE }),
      // The role may have changed since it was read and checked against the caller's permissions; hold it still.
      shareRole(db, tenant.id, role.id),
      roleUnchanged(db, tenant.id, role),
      // An existing account (same email) stays as it is: the invitation never renames or resets someone's identity;
      // the given name lives on the membership. No RETURNING: the new row is visible only through the lookup-email
      // scope.
      db.insert(users).values({ id: userId, email, name }).onConflictDoNothing(),
      db
        .insert(memberships)
        .values({
          organizationId: tenant.id,
          userId,
          roleId: role.id,
          status,
          displayName: name,
          invitedBy: caller.userId,
          scimExternalId: provisioning?.externalId ?? null,
        })
        .returning({ createdAt: memberships.createdAt, updatedAt: memberships.updatedAt }),
      // A SCIM member has no invitation: their first SSO sign-in activates the membership.
      ...(provisioning === null
        ? [
            db.insert(userTokens).values({
              id: invitation.id,
              organizationId: tenant.id,
              userId,
              purpose: 'invitation',
              tokenHash: await hashToken(invitation.token),
              expiresAt,
            }),
          ]
        : []),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(caller),
        action: provisioning === null ? 'membership.invited' : 'membership.provisioned',
        target: { type: 'user', id: userId },
        metadata:
          provisioning === null
            ? {
                after: { email, name, role: role.key, status },
                invitationExpiresAt: expiresAt.toISOString(),
              }
            : { after: { email, name, role: role.key, status, externalId: provisioning.externalId } },
      }),
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'membership.created',
        data: sql`(select ${JSON.stringify(memberFields)}::jsonb || jsonb_build_object('createdAt', ${isoText(sql`m.created_at`)})
          from ${memberships} m where m.organization_id = ${tenant.id} and m.user_id = ${userId})`,
      }),
    ]);
  } catch (error) {
    if (isPlanLimit(error)) throw planLimitError(tenant, 'members');
    if (failedGuard(error) === 'stale') {
      throw new ApiError('conflict', { detail: 'The role changed while the invitation was made; try again.' });
    }
    const info = databaseError(error);
    if (info?.code === UNIQUE_VIOLATION && info.constraint === 'memberships_organization_id_user_id_pk') {
      throw new ApiError('conflict', { detail: ALREADY_MEMBER });
    }
    if (info?.code === UNIQUE_VIOLATION && info.constraint === 'memberships_organization_id_scim_external_id_key') {
      throw new ApiError('conflict', { detail: 'Another member has this externalId.' });
    }
    throw error;
  }
  if (!membership) throw new Error('the membership insert returned nothing');
  notifyOutbox(ctx, tenant.id);
  const invited: Invited = {
    member: member(membership.createdAt),
    row: {
      id: userId,
      email,
      name,
      status,
      roleId: role.id,
      roleKey: role.key,
      createdAt: membership.createdAt,
      updatedAt: membership.updatedAt,
      scimExternalId: provisioning?.externalId ?? null,
    },
  };
  if (provisioning !== null) return invited;

  const message = invitationEmail({
    id: `invitation:${invitation.id}`,
    to: email,
    inviterName: inviter?.name ?? 'A team member',
    role: role.name,
    url: tenantLink(ctx, tenant, INVITATION_PATH, invitation.token),
    branding: emailBranding(organization ?? { name: tenant.name, branding: {} }),
  });
  sendLater(ctx, message);
  return invited;
}
