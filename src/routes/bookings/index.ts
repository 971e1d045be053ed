import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

// Staff bookings: list, read, cancel, confirm (helper A)
export function registerBookingsRoutes(_app: OpenAPIHono<AppEnv>): void {
  // Routes register here.
}
