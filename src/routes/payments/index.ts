import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

// Payment settings, Stripe checkout and webhook (helper B)
export function registerPaymentsRoutes(_app: OpenAPIHono<AppEnv>): void {
  // Routes register here.
}
