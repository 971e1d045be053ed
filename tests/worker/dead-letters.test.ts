import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { EMAIL_MESSAGE_TYPES } from '../../src/queues/email.ts';
import { auditLogs, deadLetters } from '../../src/db/schema/index.ts';
import { utcDay } from '../../src/lib/days.ts';
import type { PlatformMetricsResponse } from '../../src/routes/platform/metrics-schema.ts';
import { rollupPlatformMetrics } from '../../src/services/platform/metrics.ts';
import { DELIVER_MESSAGE } from '../../src/services/webhooks/messages.ts';
import { withCronLock } from '../support/cron.ts';
import { appDatabase, createTenant, database, newRequestId, problem, roundTrips } from '../support/harness.ts';
import { createPlatformAdmin, platformCall as platform } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

const bindings = env as unknown as Record<string, unknown>;

interface DeadLetterBody {
  id: string;
  messageId: string;
  queue: string;
  type: string;
  organizationId: string | null;
  attempts: number;
  resolvedAt: string | null;
  resolution: string | null;
}

/** Delivers messages to the dead-letter queue's consumer, as Cloudflare does after a queue's last retry. */
async function deadLetter(
  messages: { id: string; body: unknown; attempts?: number }[],
  vars: Record<string, unknown> = bindings,
) {
  const batch = createMessageBatch(
    'eventra-dlq-local',
    messages.map((message) => ({
      id: message.id,
      timestamp: new Date(),
      attempts: message.attempts ?? 1,
      body: message.body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, vars, ctx);
  return getQueueResult(batch, ctx);
}

function envelope(type: string, organizationId: string | null) {
  return {
    id: `evt_${crypto.randomUUID()}`,
    type,
    organizationId,
    payload: { deliveryId: crypto.randomUUID(), secret: 'never-stored' },
    createdAt: new Date().toISOString(),
  };
}

async function storedByMessage(messageId: string) {
  return database().select().from(deadLetters).where(eq(deadLetters.messageId, messageId));
}

describe('the dead-letter queue', () => {
  it('records each message once, by its envelope, without its payload, and acknowledges it', async () => {
    const tenant = await createTenant();
    const webhook = envelope(DELIVER_MESSAGE, tenant.organization.id);
    const queueId = crypto.randomUUID();
    const result = await deadLetter([{ id: queueId, body: webhook, attempts: 2 }]);
    expect(result.explicitAcks).toEqual([queueId]);
    // Redelivered (the acknowledgement lost): still one row.
    expect((await deadLetter([{ id: crypto.randomUUID(), body: webhook, attempts: 3 }])).explicitAcks).toHaveLength(1);
    const rows = await storedByMessage(webhook.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      messageId: webhook.id,
      queue: 'webhooks',
      type: DELIVER_MESSAGE,
      organizationId: tenant.organization.id,
      attempts: 2,
      resolvedAt: null,
    });
    expect(JSON.stringify(rows[0])).not.toContain('never-stored');
  });

  it('records a body that is no envelope as invalid, and an organization that is gone as none', async () => {
    const queueId = crypto.randomUUID();
    const unknownOrganization = envelope(EMAIL_MESSAGE_TYPES.send, crypto.randomUUID());
    const result = await deadLetter([
      { id: queueId, body: { nonsense: true } },
      { id: crypto.randomUUID(), body: unknownOrganization },
    ]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(await storedByMessage(queueId)).toMatchObject([{ queue: 'unknown', type: 'invalid', organizationId: null }]);
    const [gone] = await storedByMessage(unknownOrganization.id);
    expect(gone).toMatchObject({ queue: 'email', type: EMAIL_MESSAGE_TYPES.send, organizationId: null });
  });

  it('retries a dead letter it could not record instead of dropping it', async () => {
    const lost = envelope(DELIVER_MESSAGE, null);
    const queueId = crypto.randomUUID();
    const unreachable = { ...bindings, DATABASE_URL: 'postgres://eventra_app@127.0.0.1:1/nowhere' };
    const result = await deadLetter([{ id: queueId, body: lost }], unreachable);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual([queueId]);
    expect(await storedByMessage(lost.id)).toEqual([]);
  });
});

describe('GET /api/v1/platform/dead-letters and POST .../{id}/resolve', () => {
  it('lists the open ones newest first in pages, resolves one with the audit row, and refuses twice', async () => {
    const admin = await createPlatformAdmin();
    const tenant = await createTenant();
    const letters = [envelope(DELIVER_MESSAGE, tenant.organization.id), envelope(DELIVER_MESSAGE, null)];
    for (const letter of letters) await deadLetter([{ id: crypto.randomUUID(), body: letter }]);

    // A first request warms this isolate's platform-host state (not the list's to pay).
    expect((await platform('/api/v1/platform/dead-letters?limit=1', admin.token)).status).toBe(200);
    const requestId = newRequestId();
    const first = await platform('/api/v1/platform/dead-letters?queue=webhooks&limit=1', admin.token, {
      headers: { 'x-request-id': requestId },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const page: { data: DeadLetterBody[]; nextCursor: string | null } = await first.json();
    expect(page.data).toHaveLength(1);
    expect(page.data[0]?.messageId).toBe(letters[1]?.id);
    const second = await platform(
      `/api/v1/platform/dead-letters?queue=webhooks&limit=1&cursor=${page.nextCursor}`,
      admin.token,
    );
    const next: { data: DeadLetterBody[] } = await second.json();
    expect(next.data[0]?.messageId).toBe(letters[0]?.id);

    const target = page.data[0] as DeadLetterBody;
    const resolveId = newRequestId();
    const resolved = await platform(`/api/v1/platform/dead-letters/${target.id}/resolve`, admin.token, {
      method: 'POST',
      body: { resolution: 'discarded', reason: 'Incident #88: endpoint retired' },
      headers: { 'x-request-id': resolveId },
    });
    expect(resolved.status).toBe(200);
    expect(await roundTrips(resolveId)).toEqual({ database: 1, redis: 1 });
    const resolvedBody: DeadLetterBody = await resolved.json();
    expect(resolvedBody).toMatchObject({ id: target.id, resolution: 'discarded' });
    expect(Date.parse(resolvedBody.resolvedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, 'platform.dead_letter_resolved'), eq(auditLogs.targetId, target.id)));
    expect(audit).toMatchObject({ organizationId: null, actorUserId: admin.userId });
    expect(audit?.metadata).toMatchObject({ resolution: 'discarded', reason: 'Incident #88: endpoint retired' });

    const again = await platform(`/api/v1/platform/dead-letters/${target.id}/resolve`, admin.token, {
      method: 'POST',
      body: { resolution: 'redelivered', reason: 'second try' },
    });
    expect(again.status).toBe(409);
    const audits = await database()
      .select({ n: sql<number>`count(*)::int` })
      .from(auditLogs)
      .where(eq(auditLogs.targetId, target.id));
    expect(audits[0]?.n).toBe(1);

    // Resolved ones leave the default (open) list and show under status=resolved.
    const open: { data: DeadLetterBody[] } = await (
      await platform('/api/v1/platform/dead-letters?limit=100', admin.token)
    ).json();
    expect(open.data.map((letter) => letter.id)).not.toContain(target.id);
    const closed: { data: DeadLetterBody[] } = await (
      await platform('/api/v1/platform/dead-letters?status=resolved&limit=100', admin.token)
    ).json();
    expect(closed.data.map((letter) => letter.id)).toContain(target.id);
  });

  it('answers 404 for an unknown id, 400 for bad input, 403 to others and 404 on an organization host', async () => {
    const admin = await createPlatformAdmin();
    const unknown = await platform(`/api/v1/platform/dead-letters/${crypto.randomUUID()}/resolve`, admin.token, {
      method: 'POST',
      body: { resolution: 'discarded', reason: 'nothing there' },
    });
    expect(unknown.status).toBe(404);
    expect((await problem(unknown)).code).toBe('not_found');
    for (const query of ['?status=closed', '?queue=sms', '?limit=0', '?cursor=not*base64', '?extra=1']) {
      expect((await platform(`/api/v1/platform/dead-letters${query}`, admin.token)).status, query).toBe(400);
    }
    const letter = envelope(DELIVER_MESSAGE, null);
    await deadLetter([{ id: crypto.randomUUID(), body: letter }]);
    const [row] = await storedByMessage(letter.id);
    for (const body of [{ resolution: 'deleted', reason: 'x'.repeat(10) }, { resolution: 'discarded' }, {}]) {
      const response = await platform(`/api/v1/platform/dead-letters/${row?.id}/resolve`, admin.token, {
        method: 'POST',
        body,
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }

    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    expect((await call(tenant, 'GET', '/api/v1/platform/dead-letters', { token })).status).toBe(404);
    const notAdmin = await platform('/api/v1/platform/dead-letters', token);
    expect([401, 403]).toContain(notAdmin.status);
    expect((await storedByMessage(letter.id))[0]?.resolvedAt).toBeNull();
  });

  it('counts them per day and queue in the platform metrics, with the open ones in the snapshot', async () => {
    const admin = await createPlatformAdmin();
    await deadLetter([{ id: crypto.randomUUID(), body: envelope(DELIVER_MESSAGE, null) }]);
    const day = utcDay();
    const counted = async () => {
      const [perQueue, open] = await Promise.all([
        database()
          .select({ queue: deadLetters.queue, n: sql<number>`count(*)::int` })
          .from(deadLetters)
          .where(sql`${deadLetters.deadAt} >= ${day}::date and ${deadLetters.deadAt} < ${day}::date + 1`)
          .groupBy(deadLetters.queue),
        database().$count(deadLetters, sql`${deadLetters.resolvedAt} is null`),
      ]);
      return { perQueue: Object.fromEntries(perQueue.map((row) => [row.queue, row.n])), open };
    };
    // Other files record dead letters too: retried until nothing moved during the rollup and the read.
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const before = await counted();
      await withCronLock(() => rollupPlatformMetrics(appDatabase(), [day]));
      const response = await platform(`/api/v1/platform/metrics?from=${day}&to=${day}`, admin.token);
      const after = await counted();
      if (JSON.stringify(before) !== JSON.stringify(after)) continue;
      expect(response.status).toBe(200);
      const body: PlatformMetricsResponse = await response.json();
      const today = body.days[0];
      expect(today?.deadLetters.webhooks).toBe(after.perQueue.webhooks);
      expect(today?.deadLetters.webhooks).toBeGreaterThanOrEqual(1);
      for (const queue of ['email', 'audit', 'exports', 'unknown'] as const) {
        expect(today?.deadLetters[queue]).toBe(after.perQueue[queue] ?? 0);
      }
      expect(body.totals.deadLetters).toEqual(today?.deadLetters);
      expect(body.latest).toMatchObject({ day, deadLettersOpen: after.open });
      return;
    }
    throw new Error('the dead letters never held still for one rollup');
  });
});
