import { createApp } from './app.ts';
import { PUBLIC_WORKER_GROUPS, servesPath } from './routes/public-groups.ts';

// The public Worker (issue #13): the buyer's API (catalogue, event detail, checkout, the booking's own view, calendar
// files, live seats, the waitlist) in a bundle of its own, about half the API Worker's, so the cold starts most
// locations see compile half the code. Production routes `/api/v1/public/*` of every host here
// (workers/public/wrangler.toml) and everything else to the API Worker. The same app as src/index.ts (createApp: the
// same middleware, in the same order) with only the groups of src/routes/public-groups.ts; a request for any other
// path, whatever sent it here, goes to the API Worker unchanged over the `API` service binding (same location, no
// network hop), before any middleware runs, so it pays no tenant lookup or rate limit twice. The API Worker serves
// every route, these included, so where a request is answered never changes the answer.
const app = createApp({ worker: 'public', groups: PUBLIC_WORKER_GROUPS });
const servedHere = servesPath(PUBLIC_WORKER_GROUPS);

/** The API Worker behind the `API` service binding. */
function apiWorker(env: Record<string, unknown>): Fetcher {
  const api = env.API as Partial<Fetcher> | undefined;
  // A deployment without the binding is a configuration error (tests/node/public-worker.test.ts checks the config).
  if (typeof api?.fetch !== 'function') throw new Error('the API service binding is not configured');
  return api as Fetcher;
}

export default {
  fetch(request, env, ctx) {
    if (servedHere(new URL(request.url).pathname)) return app.fetch(request, env, ctx);
    return apiWorker(env).fetch(request);
  },
} satisfies ExportedHandler<Record<string, unknown>>;
