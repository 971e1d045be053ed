import { formatEventTime } from './format.ts';
import { message, type Branding, type EmailMessage } from './messages.ts';

/**
 * "Your organization will be deleted": to each active owner when a platform administrator schedules the deletion of
 * the organization (src/services/organizations/deletion.ts). Names the day of the deletion (in UTC) and what goes
 * with it, so the owners can keep what they need (invoices, exports) and ask for a cancellation in time.
 */
export function deletionScheduledEmail(input: {
  id: string;
  to: string;
  slug: string;
  deleteAfter: Date;
  branding: Branding;
}): EmailMessage {
  const { branding } = input;
  return message(input.id, input.to, branding, `${branding.displayName} is scheduled for deletion`, [
    'Hello,',
    `The Eventra organization ${branding.displayName} (${input.slug}) is scheduled for deletion by the platform's ` +
      'administrators. It is no longer served: its pages, sign-in and API answer that it is scheduled for deletion.',
    `On ${formatEventTime(input.deleteAfter, 'UTC')} it will be deleted for good, with everything it holds: ` +
      'events, bookings and tickets, invoices, members and roles, webhooks, images and its audit log.',
    'If this is a mistake, contact Eventra support before then: the deletion can be cancelled until that moment, ' +
      'and the organization is then served again as it was.',
    'You receive this email as an owner of the organization.',
  ]);
}

/** "The deletion was cancelled": to each active owner when a platform administrator cancels a scheduled deletion. */
export function deletionCancelledEmail(input: {
  id: string;
  to: string;
  slug: string;
  branding: Branding;
}): EmailMessage {
  const { branding } = input;
  return message(input.id, input.to, branding, `The deletion of ${branding.displayName} was cancelled`, [
    'Hello,',
    `The scheduled deletion of the Eventra organization ${branding.displayName} (${input.slug}) was cancelled by ` +
      "the platform's administrators. Nothing was deleted; the organization is back as it was before the deletion was scheduled.",
    'You receive this email as an owner of the organization.',
  ]);
}
