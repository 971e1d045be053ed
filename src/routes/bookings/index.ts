import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as cancel from './cancel.ts';
import * as confirm from './confirm.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as transferTicket from './transfer-ticket.ts';

// Staff bookings: list, read, cancel, confirm (helper A), transfer a ticket
export function registerBookingsRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  get.register(app);
  cancel.register(app);
  confirm.register(app);
  transferTicket.register(app);
}
