import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

// Refunds of bookings (helper C)
export function registerRefundsRoutes(_app: OpenAPIHono<AppEnv>): void {
  // Routes register here.
}
