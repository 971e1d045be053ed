import { createApp } from './app.ts';
import { runScheduled } from './jobs/scheduled.ts';
import { consumeBatch } from './queues/consumer.ts';

// One app per isolate: routes, the OpenAPI registry and the caches live as long as the isolate.
const app = createApp();

export default {
  fetch: app.fetch,

  async queue(batch, env, _ctx): Promise<void> {
    await consumeBatch(batch, env);
  },

  async scheduled(controller, env, _ctx): Promise<void> {
    await runScheduled(controller, env);
  },
} satisfies ExportedHandler<Record<string, unknown>>;
