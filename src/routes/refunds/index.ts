import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';

/** Refunds of bookings: POST /api/v1/bookings/{id}/refund. */
export function registerRefundsRoutes(app: OpenAPIHono<AppEnv>): void {
  create.register(app);
}
