import { createApp } from './app.ts';
import { ROUTE_GROUPS } from './routes/groups.ts';

// One app per isolate: the middleware and the route table. Each route group, the OpenAPI document, the queue
// consumer and the scheduled jobs are built when first needed (dynamic imports, lazily initialised in the bundle),
// so an isolate's start-up does not pay for what its first requests do not use.
const app = createApp({ worker: 'api', groups: ROUTE_GROUPS });

// Durable Object classes are exports of the entry (wrangler.toml binds them by class name).
export { EventLive } from './services/realtime/event-live.ts';

export default {
  fetch: app.fetch,

  async queue(batch, env, _ctx): Promise<void> {
    const { consumeBatch } = await import('./queues/consumer.ts');
    await consumeBatch(batch, env);
  },

  async scheduled(controller, env, _ctx): Promise<void> {
    const { runScheduled } = await import('./jobs/scheduled.ts');
    await runScheduled(controller, env);
  },
} satisfies ExportedHandler<Record<string, unknown>>;
