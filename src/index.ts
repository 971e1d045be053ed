import { createApp } from './app.ts';
import { createLogger } from './lib/logger.ts';
import { consumeBatch } from './queues/consumer.ts';

// One app per isolate: routes, the OpenAPI registry and the caches live as long as the isolate.
const app = createApp();

export default {
  fetch: app.fetch,

  async queue(batch, env, _ctx): Promise<void> {
    await consumeBatch(batch, env);
  },

  scheduled(controller, _env, _ctx): Promise<void> {
    // Periodic sweeps (expired holds, the outbox, usage counters) register here as they land.
    createLogger({ cron: controller.cron }).info('scheduled run', { scheduledTime: controller.scheduledTime });
    return Promise.resolve();
  },
} satisfies ExportedHandler<Record<string, unknown>>;
