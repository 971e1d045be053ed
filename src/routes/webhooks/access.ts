import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';

/**
 * Whether the organization's plan includes webhooks. THE one place for the plan feature check of every webhook
 * route: 403 `feature_unavailable` (naming the plan) unless the effective plan has `webhooks` (src/services/plans).
 */
export function requireWebhooksFeature(): MiddlewareHandler<AppEnv> {
  return requireFeature('webhooks');
}

/** The guards of every webhook route: the `webhooks:manage` permission, then the plan feature. */
export function webhookAccess(): MiddlewareHandler<AppEnv>[] {
  return [requirePermission('webhooks:manage'), requireWebhooksFeature()];
}

/** The guards of the webhook routes that change endpoints or secrets: those of every webhook route, then step-up. */
export function webhookWriteAccess(): MiddlewareHandler<AppEnv>[] {
  return [...webhookAccess(), requireRecentAuth()];
}
