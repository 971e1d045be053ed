import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index.ts';
import { retryDelaySeconds } from '../../src/queues/consumer.ts';

const bindings = env as unknown as Record<string, unknown>;

describe('queue consumer', () => {
  it('sends malformed messages on to the dead-letter queue at once instead of dropping them', async () => {
    const batch = createMessageBatch('eventra-email-local', [
      { id: 'm1', timestamp: new Date(), attempts: 1, body: { nonsense: true } },
    ]);
    const retry = vi.spyOn(batch.messages[0] as Message, 'retry');
    const ctx = createExecutionContext();
    await worker.queue(batch, bindings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: 'm1' }]);
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 0 });
  });

  it('retries a valid message whose type has no consumer yet, with backoff', async () => {
    const batch = createMessageBatch('eventra-webhooks-local', [
      {
        id: 'm2',
        timestamp: new Date(),
        attempts: 3,
        body: {
          id: 'evt_1',
          type: 'not.registered',
          organizationId: null,
          payload: {},
          createdAt: new Date().toISOString(),
        },
      },
    ]);
    const retry = vi.spyOn(batch.messages[0] as Message, 'retry');
    const ctx = createExecutionContext();
    await worker.queue(batch, bindings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([{ msgId: 'm2' }]);
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 20 });
  });

  it('acknowledges dead letters after recording them', async () => {
    const batch = createMessageBatch('eventra-dlq-local', [
      { id: 'm3', timestamp: new Date(), attempts: 10, body: { anything: 1 } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, bindings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['m3']);
  });

  it('backs off exponentially and caps at the 12 hour queue maximum', () => {
    expect([1, 2, 3, 4].map(retryDelaySeconds)).toEqual([5, 10, 20, 40]);
    expect(retryDelaySeconds(30)).toBe(43_200);
  });
});
