import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as importAttendees from './attendees.ts';
import * as importEvents from './events.ts';

export function registerImportRoutes(app: OpenAPIHono<AppEnv>): void {
  importEvents.register(app);
  importAttendees.register(app);
}
