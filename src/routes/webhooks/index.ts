import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';
import * as deliveries from './deliveries.ts';
import * as remove from './delete.ts';
import * as eventTypes from './event-types.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as redeliver from './redeliver.ts';
import * as rotateSecret from './rotate-secret.ts';
import * as test from './test.ts';
import * as update from './update.ts';

export function registerWebhooksRoutes(app: OpenAPIHono<AppEnv>): void {
  // Before /webhooks/{id}: `event-types` is not an id.
  eventTypes.register(app);
  list.register(app);
  create.register(app);
  get.register(app);
  update.register(app);
  remove.register(app);
  rotateSecret.register(app);
  test.register(app);
  deliveries.register(app);
  redeliver.register(app);
}
