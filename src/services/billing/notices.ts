import type { Bindings } from '../../env.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import type { BillingNoticePayload } from '../email/billing.ts';

/** The EMAIL_QUEUE type of billing notices to owners (src/queues/email.ts). */
export const BILLING_NOTICE_EMAIL = 'email.billing_notice';

/**
 * Enqueues a billing notice to the organization's owners (`email.billing_notice`). `key` makes it once-only: the
 * email consumer sends each message id once per owner. Callers log a refused send and carry on: the billing change
 * stands either way, and the owners see the dunning state in GET /organization/billing.
 */
export async function billingNotice(
  bindings: Pick<Bindings, 'EMAIL_QUEUE'>,
  organizationId: string,
  key: string,
  payload: BillingNoticePayload,
): Promise<void> {
  const envelope: QueueMessage = {
    id: `billing:${organizationId}:${key}`,
    type: BILLING_NOTICE_EMAIL,
    organizationId,
    payload,
    createdAt: new Date().toISOString(),
  };
  await bindings.EMAIL_QUEUE.send(envelope, { contentType: 'json' });
}
