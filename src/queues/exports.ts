import { createDatabase } from '../db/client.ts';
import { EXPORT_STEP_MESSAGE, exportStepPayload, runExportStep } from '../services/exports/job.ts';
import type { MessageHandler } from './consumer.ts';

/**
 * The export queue's message types (EXPORT_QUEUE), registered as `handlers.exports` in src/queues/consumer.ts:
 * - `export.step`: one bounded step of an organization export (src/services/exports/job.ts), which enqueues the next.
 */
export const exportHandlers: ReadonlyMap<string, MessageHandler> = new Map([
  [
    EXPORT_STEP_MESSAGE,
    async (message, ctx) => {
      const { organizationId, payload } = exportStepPayload(message);
      // No request id: background work stays off the request round-trip traces.
      await runExportStep(
        { bindings: ctx.bindings, db: createDatabase(ctx.bindings), logger: ctx.logger },
        organizationId,
        payload,
      );
    },
  ],
]);
