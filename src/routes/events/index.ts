import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as cancel from './cancel.ts';
import * as create from './create.ts';
import * as remove from './delete.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as publish from './publish.ts';
import * as createTicketType from './ticket-types-create.ts';
import * as listTicketTypes from './ticket-types-list.ts';
import * as update from './update.ts';

export function registerEventsRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  create.register(app);
  get.register(app);
  update.register(app);
  remove.register(app);
  publish.register(app);
  cancel.register(app);
  listTicketTypes.register(app);
  createTicketType.register(app);
}
