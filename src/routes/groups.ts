import type { RouteGroup } from './lazy.ts';
import { CALENDARS_GROUP, HEALTH_GROUP, LIVE_GROUP, PUBLIC_GROUP, WAITLIST_GROUP } from './public-groups.ts';

/**
 * The API's routes, in registration order (the order decides which of two matching routes answers, e.g.
 * `/webhooks/event-types` before `/webhooks/{id}`). This table is what a cold isolate registers with the router, the
 * 405s and the CORS preflights; tests/node/route-groups.test.ts proves that each group registers exactly these routes
 * in this order, so it cannot drift from the route files.
 */
export const ROUTE_GROUPS: readonly RouteGroup[] = [
  HEALTH_GROUP,
  {
    name: 'meta',
    routes: [
      ['GET', '/api/v1/openapi.json'],
      ['GET', '/docs'],
      ['GET', '/.well-known/jwks.json'],
    ],
    load: async () => (await import('./meta/index.ts')).registerMetaRoutes,
  },
  {
    name: 'auth',
    routes: [
      ['POST', '/api/v1/auth/register'],
      ['POST', '/api/v1/auth/login'],
      ['POST', '/api/v1/auth/refresh-token'],
      ['POST', '/api/v1/auth/logout'],
      ['GET', '/api/v1/auth/me'],
      ['PATCH', '/api/v1/auth/me'],
      ['GET', '/api/v1/auth/me/export'],
      ['POST', '/api/v1/auth/me/erase'],
      ['POST', '/api/v1/auth/verify-email'],
      ['POST', '/api/v1/auth/resend-verification'],
      ['POST', '/api/v1/auth/forgot-password'],
      ['POST', '/api/v1/auth/reset-password'],
      ['POST', '/api/v1/auth/change-password'],
      ['GET', '/api/v1/auth/sessions'],
      ['DELETE', '/api/v1/auth/sessions/{id}'],
    ],
    load: async () => (await import('./auth/index.ts')).registerAuthRoutes,
  },
  {
    name: 'passkeys',
    routes: [
      ['GET', '/api/v1/auth/passkeys'],
      ['POST', '/api/v1/auth/passkeys/registration-options'],
      ['POST', '/api/v1/auth/passkeys'],
      ['PUT', '/api/v1/auth/passkeys/{id}'],
      ['DELETE', '/api/v1/auth/passkeys/{id}'],
      ['POST', '/api/v1/auth/passkeys/sign-in-options'],
      ['POST', '/api/v1/auth/passkeys/sign-in'],
      ['POST', '/api/v1/auth/mfa/webauthn/options'],
      ['POST', '/api/v1/auth/mfa/webauthn/verify'],
      ['POST', '/api/v1/auth/reauthenticate/passkey-options'],
      ['POST', '/api/v1/auth/reauthenticate/passkey'],
    ],
    load: async () => (await import('./passkeys/index.ts')).registerPasskeyRoutes,
  },
  {
    name: 'mfa',
    routes: [
      ['POST', '/api/v1/auth/mfa/verify'],
      ['GET', '/api/v1/auth/mfa'],
      ['POST', '/api/v1/auth/mfa/totp'],
      ['POST', '/api/v1/auth/mfa/totp/confirm'],
      ['POST', '/api/v1/auth/mfa/totp/disable'],
      ['POST', '/api/v1/auth/mfa/recovery-codes'],
      ['POST', '/api/v1/auth/mfa/enrollment/totp'],
      ['POST', '/api/v1/auth/mfa/enrollment/totp/confirm'],
      ['POST', '/api/v1/auth/reauthenticate'],
    ],
    load: async () => (await import('./mfa/index.ts')).registerMfaRoutes,
  },
  {
    name: 'organizations',
    routes: [
      ['POST', '/api/v1/organizations'],
      ['GET', '/api/v1/organizations'],
      ['GET', '/api/v1/organization'],
      ['GET', '/api/v1/organizations/{id}'],
      ['PUT', '/api/v1/organizations/{id}'],
      ['PUT', '/api/v1/organizations/{id}/plan-overrides'],
      ['POST', '/api/v1/organizations/{id}/schedule-deletion'],
      ['POST', '/api/v1/organizations/{id}/cancel-deletion'],
    ],
    load: async () => (await import('./organizations/index.ts')).registerOrganizationsRoutes,
  },
  {
    name: 'platform',
    routes: [
      ['GET', '/api/v1/platform/users'],
      ['GET', '/api/v1/platform/users/{id}'],
      ['POST', '/api/v1/platform/users/{id}/revoke-sessions'],
      ['GET', '/api/v1/platform/users/{id}/export'],
      ['POST', '/api/v1/platform/users/{id}/erase'],
      ['GET', '/api/v1/platform/audit-logs'],
      ['POST', '/api/v1/platform/impersonations'],
      ['GET', '/api/v1/platform/impersonations/{id}'],
      ['DELETE', '/api/v1/platform/impersonations/{id}'],
      ['GET', '/api/v1/platform/metrics'],
      ['GET', '/api/v1/platform/dead-letters'],
      ['POST', '/api/v1/platform/dead-letters/{id}/resolve'],
    ],
    load: async () => (await import('./platform/index.ts')).registerPlatformRoutes,
  },
  // Feature flags (issue #16 part 7): the platform's registry.
  {
    name: 'feature-flags',
    routes: [
      ['GET', '/api/v1/platform/feature-flags'],
      ['POST', '/api/v1/platform/feature-flags'],
      ['GET', '/api/v1/platform/feature-flags/{key}'],
      ['PATCH', '/api/v1/platform/feature-flags/{key}'],
      ['DELETE', '/api/v1/platform/feature-flags/{key}'],
    ],
    load: async () => (await import('./feature-flags/index.ts')).registerFeatureFlagsRoutes,
  },
  {
    name: 'organization-features',
    routes: [
      ['GET', '/api/v1/organization/features'],
      ['GET', '/api/v1/organization/usage'],
    ],
    load: async () => (await import('./organization-features/index.ts')).registerOrganizationFeaturesRoutes,
  },
  {
    name: 'users',
    routes: [
      ['GET', '/api/v1/users'],
      ['GET', '/api/v1/users/{id}'],
      ['POST', '/api/v1/users'],
      ['PUT', '/api/v1/users/{id}'],
      ['DELETE', '/api/v1/users/{id}'],
    ],
    load: async () => (await import('./users/index.ts')).registerUsersRoutes,
  },
  {
    name: 'roles',
    routes: [
      ['GET', '/api/v1/roles'],
      ['GET', '/api/v1/roles/permissions'],
      ['POST', '/api/v1/roles'],
      ['PUT', '/api/v1/roles/{id}'],
      ['DELETE', '/api/v1/roles/{id}'],
    ],
    load: async () => (await import('./roles/index.ts')).registerRolesRoutes,
  },
  {
    name: 'events',
    routes: [
      ['GET', '/api/v1/events'],
      ['POST', '/api/v1/events'],
      ['GET', '/api/v1/events/{id}'],
      ['PUT', '/api/v1/events/{id}'],
      ['DELETE', '/api/v1/events/{id}'],
      ['POST', '/api/v1/events/{id}/publish'],
      ['POST', '/api/v1/events/{id}/cancel'],
      ['GET', '/api/v1/events/{id}/ticket-types'],
      ['POST', '/api/v1/events/{id}/ticket-types'],
    ],
    load: async () => (await import('./events/index.ts')).registerEventsRoutes,
  },
  // Recurring event series (issue #18 part 5).
  {
    name: 'event-series',
    routes: [
      ['GET', '/api/v1/event-series'],
      ['POST', '/api/v1/event-series'],
      ['GET', '/api/v1/event-series/{id}'],
      ['PUT', '/api/v1/event-series/{id}'],
      ['GET', '/api/v1/event-series/{id}/dates'],
      ['POST', '/api/v1/event-series/{id}/end'],
    ],
    load: async () => (await import('./event-series/index.ts')).registerEventSeriesRoutes,
  },
  // Attendee questions (issue #18 part 3).
  {
    name: 'questions',
    routes: [
      ['GET', '/api/v1/events/{id}/questions'],
      ['POST', '/api/v1/events/{id}/questions'],
      ['PATCH', '/api/v1/events/{id}/questions/{questionId}'],
      ['PATCH', '/api/v1/bookings/{id}/attendees/{attendeeId}/answers'],
    ],
    load: async () => (await import('./questions/index.ts')).registerQuestionsRoutes,
  },
  {
    name: 'ticket-types',
    routes: [
      ['PUT', '/api/v1/ticket-types/{id}'],
      ['DELETE', '/api/v1/ticket-types/{id}'],
    ],
    load: async () => (await import('./ticket-types/index.ts')).registerTicketTypesRoutes,
  },
  {
    // Issue #18 part 1: discount codes (staff CRUD; the checkout and the price quote are in the public group).
    name: 'discount-codes',
    routes: [
      ['GET', '/api/v1/events/{id}/discount-codes'],
      ['POST', '/api/v1/events/{id}/discount-codes'],
      ['PATCH', '/api/v1/discount-codes/{id}'],
      ['DELETE', '/api/v1/discount-codes/{id}'],
    ],
    load: async () => (await import('./discount-codes/index.ts')).registerDiscountCodesRoutes,
  },
  {
    name: 'capacity-pools',
    routes: [
      ['GET', '/api/v1/events/{id}/capacity-pools'],
      ['POST', '/api/v1/events/{id}/capacity-pools'],
      ['PUT', '/api/v1/capacity-pools/{id}'],
      ['DELETE', '/api/v1/capacity-pools/{id}'],
    ],
    load: async () => (await import('./capacity-pools/index.ts')).registerCapacityPoolsRoutes,
  },
  {
    name: 'bookings',
    routes: [
      ['GET', '/api/v1/bookings'],
      ['GET', '/api/v1/bookings/{id}'],
      ['POST', '/api/v1/bookings/{id}/cancel'],
      ['POST', '/api/v1/bookings/{id}/confirm'],
      ['POST', '/api/v1/bookings/{id}/attendees/{attendeeId}/transfer'],
    ],
    load: async () => (await import('./bookings/index.ts')).registerBookingsRoutes,
  },
  {
    name: 'refunds',
    routes: [['POST', '/api/v1/bookings/{id}/refund']],
    load: async () => (await import('./refunds/index.ts')).registerRefundsRoutes,
  },
  {
    name: 'attendees',
    routes: [
      ['GET', '/api/v1/events/{id}/attendees'],
      ['GET', '/api/v1/events/{id}/attendees/export'],
    ],
    load: async () => (await import('./attendees/index.ts')).registerAttendeesRoutes,
  },
  {
    name: 'imports',
    routes: [
      ['POST', '/api/v1/imports/events'],
      ['POST', '/api/v1/imports/attendees'],
    ],
    load: async () => (await import('./imports/index.ts')).registerImportRoutes,
  },
  {
    name: 'check-ins',
    routes: [['POST', '/api/v1/check-ins']],
    load: async () => (await import('./check-ins/index.ts')).registerCheckInsRoutes,
  },
  {
    name: 'payments',
    routes: [
      ['GET', '/api/v1/organization/payment-settings'],
      ['PUT', '/api/v1/organization/payment-settings'],
      ['POST', '/api/v1/payments/stripe/webhook'],
    ],
    load: async () => (await import('./payments/index.ts')).registerPaymentsRoutes,
  },
  // Plan subscriptions through Stripe Billing (issue #16 part 8).
  {
    name: 'billing',
    routes: [
      ['GET', '/api/v1/organization/billing'],
      ['POST', '/api/v1/organization/billing/checkout'],
      ['POST', '/api/v1/organization/billing/portal'],
      ['POST', '/api/v1/billing/webhooks'],
    ],
    load: async () => (await import('./billing/index.ts')).registerBillingRoutes,
  },
  // Invoices (issue #18 part 4).
  {
    name: 'invoices',
    routes: [
      ['GET', '/api/v1/organization/invoice-settings'],
      ['PUT', '/api/v1/organization/invoice-settings'],
      ['GET', '/api/v1/bookings/{id}/invoice'],
      ['GET', '/api/v1/public/bookings/{id}/invoice'],
      ['GET', '/api/v1/bookings/{id}/refunds/{refundId}/credit-note'],
      ['GET', '/api/v1/public/bookings/{id}/refunds/{refundId}/credit-note'],
    ],
    load: async () => (await import('./invoices/index.ts')).registerInvoicesRoutes,
  },
  // Uploaded images in R2 (issue #16 part 4).
  {
    name: 'images',
    routes: [
      ['PUT', '/api/v1/organization/logo'],
      ['PUT', '/api/v1/events/{id}/cover'],
      ['GET', '/api/v1/organization/logo'],
      ['GET', '/api/v1/events/{id}/cover'],
      ['DELETE', '/api/v1/organization/logo'],
      ['DELETE', '/api/v1/events/{id}/cover'],
    ],
    load: async () => (await import('./images/index.ts')).registerImagesRoutes,
  },
  {
    name: 'webhooks',
    routes: [
      ['GET', '/api/v1/webhooks/event-types'],
      ['GET', '/api/v1/webhooks'],
      ['POST', '/api/v1/webhooks'],
      ['GET', '/api/v1/webhooks/{id}'],
      ['PUT', '/api/v1/webhooks/{id}'],
      ['DELETE', '/api/v1/webhooks/{id}'],
      ['POST', '/api/v1/webhooks/{id}/rotate-secret'],
      ['POST', '/api/v1/webhooks/{id}/test'],
      ['GET', '/api/v1/webhooks/{id}/deliveries'],
      ['POST', '/api/v1/webhook-deliveries/{id}/redeliver'],
    ],
    load: async () => (await import('./webhooks/index.ts')).registerWebhooksRoutes,
  },
  PUBLIC_GROUP,
  CALENDARS_GROUP,
  {
    name: 'domains',
    routes: [
      ['GET', '/api/v1/organization/domains'],
      ['POST', '/api/v1/organization/domains'],
      ['GET', '/api/v1/organization/domains/{id}'],
      ['POST', '/api/v1/organization/domains/{id}/verify'],
      ['DELETE', '/api/v1/organization/domains/{id}'],
    ],
    load: async () => (await import('./domains/index.ts')).registerDomainRoutes,
  },
  {
    name: 'api-keys',
    routes: [
      ['GET', '/api/v1/api-keys'],
      ['POST', '/api/v1/api-keys'],
      ['GET', '/api/v1/api-keys/{id}'],
      ['PUT', '/api/v1/api-keys/{id}'],
      ['DELETE', '/api/v1/api-keys/{id}'],
    ],
    load: async () => (await import('./api-keys/index.ts')).registerApiKeysRoutes,
  },
  {
    name: 'sso',
    routes: [
      ['GET', '/api/v1/sso/connections'],
      ['POST', '/api/v1/sso/connections'],
      ['GET', '/api/v1/sso/connections/{id}'],
      ['DELETE', '/api/v1/sso/connections/{id}'],
      ['POST', '/api/v1/sso/authorize'],
      ['GET', '/api/v1/sso/callback'],
      ['POST', '/api/v1/sso/token'],
      ['GET', '/api/v1/sso/identities'],
      ['DELETE', '/api/v1/sso/identities/{id}'],
      ['GET', '/api/v1/sso/saml/{id}/metadata'],
      ['POST', '/api/v1/sso/saml/{id}/acs'],
      ['GET', '/api/v1/sso/domains'],
      ['POST', '/api/v1/sso/domains'],
      ['GET', '/api/v1/sso/domains/{id}'],
      ['POST', '/api/v1/sso/domains/{id}/verify'],
      ['PATCH', '/api/v1/sso/domains/{id}'],
      ['DELETE', '/api/v1/sso/domains/{id}'],
      ['POST', '/api/v1/sso/discover'],
    ],
    load: async () => (await import('./sso/index.ts')).registerSsoRoutes,
  },
  // SCIM 2.0 provisioning by the organization's identity provider (issue #15 part 5).
  {
    name: 'scim',
    routes: [
      ['GET', '/scim/v2/ServiceProviderConfig'],
      ['GET', '/scim/v2/Users'],
      ['POST', '/scim/v2/Users'],
      ['GET', '/scim/v2/Users/{id}'],
      ['PUT', '/scim/v2/Users/{id}'],
      ['PATCH', '/scim/v2/Users/{id}'],
      ['DELETE', '/scim/v2/Users/{id}'],
      ['GET', '/scim/v2/Groups'],
      ['GET', '/scim/v2/Groups/{id}'],
      ['PATCH', '/scim/v2/Groups/{id}'],
    ],
    load: async () => (await import('./scim/index.ts')).registerScimRoutes,
  },
  LIVE_GROUP,
  WAITLIST_GROUP,
  {
    name: 'audit-logs',
    routes: [
      ['GET', '/api/v1/audit-logs/export'],
      ['GET', '/api/v1/audit-logs'],
    ],
    load: async () => (await import('./audit-logs/index.ts')).registerAuditLogsRoutes,
  },
  // Organization exports (issue #16 part 2).
  {
    name: 'exports',
    routes: [
      ['GET', '/api/v1/exports'],
      ['POST', '/api/v1/exports'],
      ['GET', '/api/v1/exports/{id}'],
      ['GET', '/api/v1/exports/{id}/files/{file}'],
    ],
    load: async () => (await import('./exports/index.ts')).registerExportRoutes,
  },
  {
    name: 'impersonations',
    routes: [
      ['GET', '/api/v1/impersonations'],
      ['DELETE', '/api/v1/impersonations/{id}'],
    ],
    load: async () => (await import('./impersonations/index.ts')).registerImpersonationsRoutes,
  },
  {
    name: 'graphql',
    routes: [
      ['POST', '/api/v1/graphql'],
      ['GET', '/api/v1/graphql'],
    ],
    load: async () => (await import('./graphql/index.ts')).registerGraphqlRoutes,
  },
];
