import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index.ts';
import type { ServiceContext } from '../../src/lib/context.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { createTenant } from '../support/harness.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import { sendLater } from '../../src/services/email/branding.ts';
import { deliverOnce, emailSentKey, EMAIL_CLAIM_TTL_SECONDS } from '../../src/services/email/deliver.ts';
import type { EmailMessage } from '../../src/services/email/messages.ts';
import { emailProvider, resendProvider, type EmailProvider } from '../../src/services/email/send.ts';
import { usageCount } from '../support/plans.ts';
import { mailbox, waitForMail } from '../support/users.ts';

const bindings = () => readBindings(env as unknown as Record<string, unknown>);
const redis = () => createRedis(bindings());
const quietLogger = createLogger({}, 'error');

function sampleMessage(overrides: Partial<EmailMessage> = {}): EmailMessage {
  const id = `test:${crypto.randomUUID()}`;
  return {
    id,
    to: `mail-${crypto.randomUUID().slice(0, 12)}@example.test`,
    fromName: 'Acme Tickets',
    subject: 'Hello',
    text: 'Hello there\n\nOpen: https://acme.localhost/x?token=abc',
    html: '<p>Hello there</p>',
    links: ['https://acme.localhost/x?token=abc'],
    ...overrides,
  };
}

function envelope(type: string, id: string, payload: unknown, organizationId: string | null = null): QueueMessage {
  return { id, type, organizationId, payload, createdAt: new Date().toISOString() };
}

/** Runs the Worker's queue handler on one batch of the local email queue, as the runtime would deliver it. */
async function deliver(bodies: unknown[], attempts = 1) {
  const batch = createMessageBatch(
    'eventra-email-local',
    bodies.map((body, index) => ({ id: `msg-${index}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body })),
  );
  const retries = batch.messages.map((message) => vi.spyOn(message, 'retry'));
  const ctx = createExecutionContext();
  await worker.queue(batch, env as unknown as Record<string, unknown>, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ids: batch.messages.map((message) => message.id), result, retries };
}

function recordingProvider(fail = false): EmailProvider & { sent: EmailMessage[] } {
  const sent: EmailMessage[] = [];
  return {
    sent,
    send: (message) => {
      if (fail) return Promise.reject(new Error('provider down'));
      sent.push(message);
      return Promise.resolve();
    },
  };
}

describe('email.send consumer', () => {
  it('sends a message once although the queue delivers it twice in a batch and again later', async () => {
    const message = sampleMessage();
    const body = envelope('email.send', message.id, message);

    const first = await deliver([body, body]);
    expect(first.result.explicitAcks.sort()).toEqual([...first.ids].sort());
    expect(first.result.retryMessages).toEqual([]);

    const redelivered = await deliver([body], 2);
    expect(redelivered.result.explicitAcks).toEqual(redelivered.ids);

    const messages = await mailbox(message.to);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toEqual(message);
    expect(await redis().get(emailSentKey(message.id))).toBe('sent');
    const ttl = await redis().ttl(emailSentKey(message.id));
    expect(ttl).toBeGreaterThan(6 * 24 * 60 * 60);
  });

  it("counts a sent email once in the organization's usage, duplicates not", async () => {
    const tenant = await createTenant();
    const message = sampleMessage();
    const body = envelope('email.send', message.id, message, tenant.organization.id);
    await deliver([body, body]);
    await deliver([body], 2);
    expect(await mailbox(message.to)).toHaveLength(1);
    expect(await usageCount(tenant.organization.id, 'emails')).toBe(1);
  });

  it('sends once when two deliveries of the same message run at the same time', async () => {
    const message = sampleMessage();
    const body = envelope('email.send', message.id, message);
    const outcomes = await Promise.all([deliver([body]), deliver([body]), deliver([body])]);
    expect(await mailbox(message.to)).toHaveLength(1);
    // Each delivery either sent (or found it sent) and acked, or met the other's claim and asked for a retry.
    for (const { ids, result } of outcomes) {
      expect([...result.explicitAcks, ...result.retryMessages.map((retry) => retry.msgId)]).toEqual(ids);
    }
    expect(outcomes.some(({ result }) => result.explicitAcks.length === 1)).toBe(true);
  });

  it('retries with backoff, without sending, while another delivery holds the claim; sends once it expired', async () => {
    const message = sampleMessage();
    const body = envelope('email.send', message.id, message);
    await redis().set(emailSentKey(message.id), 'sending:other-consumer', { ex: EMAIL_CLAIM_TTL_SECONDS });

    const blocked = await deliver([body], 2);
    expect(blocked.result.explicitAcks).toEqual([]);
    expect(blocked.retries[0]).toHaveBeenCalledWith({ delaySeconds: 10 });
    expect(await mailbox(message.to)).toEqual([]);

    await redis().del(emailSentKey(message.id)); // the claim of a consumer that died mid-send expired
    const after = await deliver([body], 3);
    expect(after.result.explicitAcks).toEqual(after.ids);
    expect(await mailbox(message.to)).toHaveLength(1);
  });

  it('sends nothing for an invalid payload and retries it with backoff (then the dead-letter queue)', async () => {
    const message = sampleMessage();
    const { subject: _subject, ...withoutSubject } = message;
    const invalid = [
      envelope('email.send', message.id, withoutSubject),
      envelope('email.send', `${message.id}:2`, { ...message, id: `${message.id}:2`, to: 'not-an-address' }),
      envelope('email.send', `${message.id}:3`, 'just a string'),
    ];
    const { ids, result, retries } = await deliver(invalid, 1);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(ids);
    for (const retry of retries) expect(retry).toHaveBeenCalledWith({ delaySeconds: 5 });
    expect(await mailbox(message.to)).toEqual([]);
    expect(await redis().get(emailSentKey(message.id))).toBeNull();
  });

  it('releases its claim when the provider fails, so the retry sends (once)', async () => {
    const message = sampleMessage();
    const failing = recordingProvider(true);
    await expect(deliverOnce({ redis: redis(), provider: failing, logger: quietLogger }, message)).rejects.toThrow(
      'provider down',
    );
    expect(await redis().get(emailSentKey(message.id))).toBeNull();

    const working = recordingProvider();
    const deps = { redis: redis(), provider: working, logger: quietLogger };
    expect(await deliverOnce(deps, message)).toBe('sent');
    expect(await deliverOnce(deps, message)).toBe('duplicate');
    expect(working.sent).toEqual([message]);
  });
  it('sends one address at most 5 account mails an hour per organization, dropping the rest without retry', async () => {
    const { organization } = await createTenant();
    const to = `account-${crypto.randomUUID().slice(0, 12)}@example.test`;
    const bodies = Array.from({ length: 7 }, () => {
      const message = sampleMessage({ to });
      return envelope('email.send', message.id, message, organization.id);
    });
    const { ids, result, retries } = await deliver(bodies);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(retries.every((retry) => retry.mock.calls.length === 0)).toBe(true);
    expect(await mailbox(to)).toHaveLength(5);
    // Another organization has its own budget for the address.
    const elsewhere = await createTenant();
    const other = sampleMessage({ to });
    await deliver([envelope('email.send', other.id, other, elsewhere.organization.id)]);
    expect(await mailbox(to)).toHaveLength(6);
  });
});

describe('sendLater', () => {
  function serviceContext(overrides: Partial<ServiceContext['bindings']> = {}) {
    const pending: Promise<unknown>[] = [];
    const ctx = {
      bindings: { ...bindings(), ...overrides },
      logger: quietLogger,
      tenant: null,
      waitUntil: (promise: Promise<unknown>) => pending.push(promise),
    } as unknown as ServiceContext;
    return { ctx, pending };
  }

  it('enqueues an email.send envelope (id = message id) after the response instead of sending', async () => {
    const sent: { body: unknown; options: unknown }[] = [];
    const queue = {
      send: (body: unknown, options: unknown) => {
        sent.push({ body, options });
        return Promise.resolve();
      },
    } as unknown as Queue;
    const { ctx, pending } = serviceContext({ EMAIL_QUEUE: queue });
    const message = sampleMessage();
    const organizationId = crypto.randomUUID();

    sendLater(ctx, message, organizationId);
    expect(pending).toHaveLength(1);
    await Promise.all(pending);

    expect(sent).toHaveLength(1);
    const [{ body, options } = { body: null, options: null }] = sent;
    expect(options).toEqual({ contentType: 'json' });
    const { createdAt, ...rest } = body as QueueMessage;
    expect(rest).toEqual({ id: message.id, type: 'email.send', organizationId, payload: message });
    expect(new Date(createdAt).toISOString()).toBe(createdAt);
    expect(await mailbox(message.to)).toEqual([]);
  });

  it('reaches the dev mailbox through the local queue and its consumer', async () => {
    const { ctx, pending } = serviceContext();
    const message = sampleMessage();
    sendLater(ctx, message);
    await Promise.all(pending);
    const [received] = await waitForMail(message.to);
    expect(received).toEqual(message);
    expect(await redis().get(emailSentKey(message.id))).toBe('sent');
  });
});

describe('email providers', () => {
  it('posts to Resend with the message id as Idempotency-Key', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetcher = ((url: string, init: RequestInit) => {
      calls.push({ url, init });
      return Promise.resolve(Response.json({ id: 're_123' }, { status: 200 }));
    }) as unknown as typeof fetch;
    const message = sampleMessage({ fromName: 'Acme <Tickets> "Team"\r\nBcc: x@evil.test' });

    await resendProvider('re_test_key', 'tickets@eventra.app', fetcher).send(message);

    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url).toBe('https://api.resend.com/emails');
    expect(call?.init.method).toBe('POST');
    expect(call?.init.headers).toEqual({
      authorization: 'Bearer re_test_key',
      'content-type': 'application/json',
      'idempotency-key': message.id,
    });
    expect(JSON.parse(call?.init.body as string)).toEqual({
      // No quotes, angle brackets or line breaks of the display name reach the header.
      from: 'Acme Tickets TeamBcc: x@evil.test <tickets@eventra.app>',
      to: [message.to],
      subject: message.subject,
      text: message.text,
      html: message.html,
    });
  });

  it('fails (so the queue retries) when Resend refuses the message', async () => {
    const fetcher = (() =>
      Promise.resolve(new Response('{"message":"invalid"}', { status: 422 }))) as unknown as typeof fetch;
    await expect(resendProvider('key', 'tickets@eventra.app', fetcher).send(sampleMessage())).rejects.toThrow(
      'email provider answered 422',
    );
  });

  it('captures to the dev mailbox only in the local environment; elsewhere Resend must be configured', () => {
    const local = bindings();
    expect(local.ENVIRONMENT).toBe('local');
    for (const ENVIRONMENT of ['staging', 'production'] as const) {
      expect(() =>
        emailProvider({ ...local, ENVIRONMENT, EMAIL_API_KEY: undefined, EMAIL_FROM: undefined }, redis(), quietLogger),
      ).toThrow('EMAIL_API_KEY and EMAIL_FROM must be set outside the local environment');
    }
  });
});
