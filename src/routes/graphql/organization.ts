import { assertFeature } from '../../services/plans/quotas.ts';
import { usageReport, type UsageDay, type UsageReport } from '../../services/plans/usage.ts';
import { MAX_USAGE_DAYS, UsageQuerySchema } from '../organization-features/schema.ts';
import type { AuditEntryView } from '../../services/audit/list.ts';
import { listAuditLogs } from '../../services/audit/list.ts';
import { getOwnOrganization } from '../../services/organizations/read.ts';
import { listRoles } from '../../services/roles/list.ts';
import type { RoleView } from '../../services/roles/roles.ts';
import type { Member } from '../../services/users/members.ts';
import { listMembers } from '../../services/users/list.ts';
import { listDeliveries } from '../../services/webhooks/deliveries.ts';
import { listEndpoints } from '../../services/webhooks/endpoints.ts';
import type { WebhookDeliveryView, WebhookEndpointView } from '../../services/webhooks/shared.ts';
import { requireTenant } from '../../lib/context.ts';
import * as audit from '../audit-logs/schema.ts';
import { presentOrganization, type OrganizationResponse } from '../organizations/schema.ts';
import * as users from '../users/schema.ts';
import * as webhooks from '../webhooks/schema.ts';
import { builder, given, need, parseArgs, type GraphqlContext } from './builder.ts';
import { connection, pageArgs, restPage } from './connection.ts';

const OrganizationRef = builder.objectRef<OrganizationResponse>('Organization').implement({
  description: 'The organization served on this host (REST `GET /api/v1/organization`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    plan: t.exposeString('plan', { description: '`starter`, `pro` or `enterprise`.' }),
    status: t.exposeString('status'),
    branding: t.expose('branding', { type: 'JSONObject' }),
    settings: t.expose('settings', { type: 'JSONObject' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const MemberRoleRef = builder.objectRef<Member['role']>('MemberRole').implement({
  fields: (t) => ({ key: t.exposeString('key'), name: t.exposeString('name') }),
});

const MemberRef = builder.objectRef<Member>('Member').implement({
  description: 'A member of the organization (REST `Member`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    role: t.field({ type: MemberRoleRef, resolve: (member) => member.role }),
    status: t.exposeString('status', { description: '`active`, `invited` or `disabled`.' }),
    emailVerified: t.exposeBoolean('emailVerified'),
    lastLoginAt: t.expose('lastLoginAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const RoleRef = builder.objectRef<RoleView>('Role').implement({
  description: 'A role: built in or custom, with its permissions (REST `Role`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    permissions: t.exposeStringList('permissions'),
    builtIn: t.exposeBoolean('builtIn'),
    memberCount: t.exposeInt('memberCount'),
  }),
});

const WebhookAttemptRef = builder.objectRef<WebhookDeliveryView['attempts'][number]>('WebhookAttempt').implement({
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    statusCode: t.exposeInt('statusCode', { nullable: true }),
    durationMs: t.exposeInt('durationMs'),
    responseBody: t.exposeString('responseBody', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookDeliveryRef = builder.objectRef<WebhookDeliveryView>('WebhookDelivery').implement({
  description: 'One event sent (or being sent) to an endpoint, with its attempts (REST `WebhookDelivery`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    endpointId: t.exposeID('endpointId'),
    eventId: t.exposeID('eventId'),
    eventType: t.exposeString('eventType'),
    status: t.exposeString('status', { description: '`pending`, `succeeded` or `failed`.' }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    attempts: t.field({ type: [WebhookAttemptRef], resolve: (delivery) => delivery.attempts }),
  }),
});

const WebhookDeliveryConnection = connection(
  'WebhookDelivery',
  WebhookDeliveryRef,
  'A page of deliveries (REST `GET /api/v1/webhooks/{id}/deliveries`).',
);

const WebhookEndpointRef = builder.objectRef<WebhookEndpointView>('WebhookEndpoint').implement({
  description: 'A webhook endpoint, without its secret (REST `WebhookEndpoint`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description'),
    eventTypes: t.exposeStringList('eventTypes'),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    failingSince: t.expose('failingSince', { type: 'DateTime', nullable: true }),
    previousSecretExpiresAt: t.expose('previousSecretExpiresAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.field({
      type: WebhookDeliveryConnection,
      description:
        'This endpoint’s deliveries, newest first by default. One database round trip per endpoint (not batched): ' +
        'its cost counts its page for every endpoint listed.',
      args: {
        ...pageArgs(t.arg, webhooks.DEFAULT_PAGE_SIZE, webhooks.MAX_PAGE_SIZE),
        status: t.arg.string({ description: '`pending`, `succeeded` or `failed`.' }),
      },
      resolve: (endpoint, args, context) => {
        const { first, after, ...filters } = args;
        const query = parseArgs(webhooks.DeliveryListQuerySchema, { ...given(filters), ...restPage({ first, after }) });
        return listDeliveries({ ctx: context.service, input: { ...query, id: endpoint.id } });
      },
    }),
  }),
});

const AuditActorRef = builder.objectRef<AuditEntryView['actor']>('AuditActor').implement({
  fields: (t) => ({
    type: t.exposeString('type', { description: '`user`, `platform_admin`, `system` or `anonymous`.' }),
    userId: t.exposeID('userId', { nullable: true }),
  }),
});

const AuditTargetRef = builder.objectRef<NonNullable<AuditEntryView['target']>>('AuditTarget').implement({
  fields: (t) => ({ type: t.exposeString('type'), id: t.exposeString('id', { nullable: true }) }),
});

const AuditEntryRef = builder.objectRef<AuditEntryView>('AuditEntry').implement({
  description: 'One audit log entry (REST `AuditEntry`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    actor: t.field({ type: AuditActorRef, resolve: (entry) => entry.actor }),
    action: t.exposeString('action'),
    target: t.field({ type: AuditTargetRef, nullable: true, resolve: (entry) => entry.target }),
    ip: t.exposeString('ip', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    requestId: t.exposeString('requestId', { nullable: true }),
    correlationId: t.exposeString('correlationId', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSONObject' }),
  }),
});

const MemberConnection = connection('Member', MemberRef, 'A page of members (REST `GET /api/v1/users`).');
const WebhookEndpointConnection = connection(
  'WebhookEndpoint',
  WebhookEndpointRef,
  'A page of webhook endpoints (REST `GET /api/v1/webhooks`).',
);
const AuditEntryConnection = connection(
  'AuditEntry',
  AuditEntryRef,
  'A page of the audit log (REST `GET /api/v1/audit-logs`).',
);

const UsageDayRef = builder.objectRef<UsageDay>('UsageDay').implement({
  description: 'One UTC day of usage.',
  fields: (t) => ({
    day: t.exposeString('day', { description: '`YYYY-MM-DD`.' }),
    apiCalls: t.exposeInt('api_calls', { description: 'Authenticated API requests.' }),
    bookings: t.exposeInt('bookings'),
    emails: t.exposeInt('emails'),
    webhookDeliveries: t.exposeInt('webhook_deliveries'),
  }),
});

const UsageTotalsRef = builder.objectRef<UsageReport['totals']>('UsageTotals').implement({
  fields: (t) => ({
    apiCalls: t.exposeInt('api_calls'),
    bookings: t.exposeInt('bookings'),
    emails: t.exposeInt('emails'),
    webhookDeliveries: t.exposeInt('webhook_deliveries'),
  }),
});

const UsageRef = builder.objectRef<UsageReport>('Usage').implement({
  description: 'Usage of the organization over a range of UTC days (REST `GET /api/v1/organization/usage`).',
  fields: (t) => ({
    from: t.exposeString('from'),
    to: t.exposeString('to'),
    days: t.field({ type: [UsageDayRef], resolve: (report) => report.days }),
    totals: t.field({ type: UsageTotalsRef, resolve: (report) => report.totals }),
  }),
});

const CreatedSort = builder.enumType('CreatedSort', {
  description: 'By creation: ascending or descending (`-createdAt` in REST); each list has its REST default.',
  values: { CREATED_AT: { value: 'createdAt' }, CREATED_AT_DESC: { value: '-createdAt' } } as const,
});

/** The webhook routes' guards: the permission, then the plan feature (403 `feature_unavailable`). */
function needWebhooks(context: GraphqlContext): void {
  need(context, 'webhooks:manage');
  assertFeature(requireTenant(context.service), 'webhooks');
}

builder.queryFields((t) => ({
  organization: t.field({
    type: OrganizationRef,
    description: 'The organization of this host. Needs `organization:read`. One round trip.',
    resolve: async (_root, _args, context) => {
      need(context, 'organization:read');
      return presentOrganization(await getOwnOrganization({ ctx: context.service }));
    },
  }),
  usage: t.field({
    type: UsageRef,
    description:
      `Usage per UTC day, \`from\`..\`to\` (default the last 30 days, at most ${MAX_USAGE_DAYS}). Needs ` +
      '`organization:read`. One database and one Redis round trip.',
    args: {
      from: t.arg.string({ description: 'First day, `YYYY-MM-DD`.' }),
      to: t.arg.string({ description: 'Last day, `YYYY-MM-DD`.' }),
    },
    resolve: (_root, args, context) => {
      need(context, 'organization:read');
      const query = parseArgs(UsageQuerySchema, given(args));
      return usageReport({ ctx: context.service, input: { ...query, maxDays: MAX_USAGE_DAYS } });
    },
  }),
  members: t.field({
    type: MemberConnection,
    description: 'The organization’s members, with the REST list’s filters. Needs `users:read`. One round trip.',
    args: {
      ...pageArgs(t.arg, users.DEFAULT_PAGE_SIZE, users.MAX_PAGE_SIZE),
      q: t.arg.string({ description: 'Case-insensitive prefix of the email or the name.' }),
      role: t.arg.string({ description: 'Role key.' }),
      status: t.arg.string({ description: '`active`, `invited` or `disabled`.' }),
      sort: t.arg({ type: CreatedSort }),
    },
    resolve: (_root, args, context) => {
      need(context, 'users:read');
      const { first, after, ...filters } = args;
      const input = parseArgs(users.MemberListQuerySchema, { ...given(filters), ...restPage({ first, after }) });
      return listMembers({ ctx: context.service, input });
    },
  }),
  roles: t.field({
    type: [RoleRef],
    description: 'The organization’s roles. Needs `users:read`. One round trip.',
    resolve: (_root, _args, context) => {
      need(context, 'users:read');
      return listRoles({ ctx: context.service });
    },
  }),
  webhookEndpoints: t.field({
    type: WebhookEndpointConnection,
    description: 'Webhook endpoints. Needs `webhooks:manage` and a plan with webhooks. One round trip.',
    args: {
      ...pageArgs(t.arg, webhooks.DEFAULT_PAGE_SIZE, webhooks.MAX_PAGE_SIZE),
      sort: t.arg({ type: CreatedSort }),
    },
    resolve: (_root, args, context) => {
      needWebhooks(context);
      const { first, after, ...rest } = args;
      const input = parseArgs(webhooks.EndpointListQuerySchema, { ...given(rest), ...restPage({ first, after }) });
      return listEndpoints({ ctx: context.service, input });
    },
  }),
  auditLog: t.field({
    type: AuditEntryConnection,
    description: 'The audit log, newest first by default, with the REST filters. Needs `audit:read`. One round trip.',
    args: {
      ...pageArgs(t.arg, audit.DEFAULT_PAGE_SIZE, audit.MAX_PAGE_SIZE),
      actor: t.arg.id({ description: 'The acting user’s id.' }),
      action: t.arg.string({ description: 'An exact action (`booking.cancelled`) or a prefix (`booking.*`).' }),
      targetType: t.arg.string(),
      targetId: t.arg.string(),
      from: t.arg({ type: 'DateTime', description: 'From this instant (inclusive).' }),
      to: t.arg({ type: 'DateTime', description: 'Until this instant (exclusive).' }),
      sort: t.arg({ type: CreatedSort }),
    },
    resolve: (_root, args, context) => {
      need(context, 'audit:read');
      const { first, after, ...filters } = args;
      const input = parseArgs(audit.AuditListQuerySchema, { ...given(filters), ...restPage({ first, after }) });
      return listAuditLogs({ ctx: context.service, input });
    },
  }),
}));
