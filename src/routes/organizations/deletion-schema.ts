import { z } from '@hono/zod-openapi';
import { DELETION_GRACE_DAYS } from '../../services/organizations/deletion.ts';
import { Timestamp, Uuid } from '../fields.ts';

const reason = (what: string) =>
  z
    .string()
    .trim()
    .min(3)
    .max(500)
    .openapi({
      description: `Why ${what} (kept in the platform audit log and the organization's), e.g. the support ticket.`,
      example: 'Support #4711: the owner asked to close the account',
    });

export const ScheduleDeletionBodySchema = z
  .object({
    reason: reason('the organization is deleted'),
    graceDays: z
      .number()
      .int()
      .min(DELETION_GRACE_DAYS.min)
      .max(DELETION_GRACE_DAYS.max)
      .default(DELETION_GRACE_DAYS.default)
      .openapi({
        description:
          `Days before the deletion, ${DELETION_GRACE_DAYS.min} to ${DELETION_GRACE_DAYS.max} (default ` +
          `${DELETION_GRACE_DAYS.default}). The organization is not served from now on; it can be restored until then.`,
        format: 'int32',
        example: DELETION_GRACE_DAYS.default,
      }),
  })
  .strict()
  .openapi('ScheduleOrganizationDeletionRequest');

export const CancelDeletionBodySchema = z
  .object({ reason: reason('the deletion is cancelled') })
  .strict()
  .openapi('CancelOrganizationDeletionRequest');

export const DeletionScheduleSchema = z
  .object({
    organizationId: Uuid.openapi({ example: '0b9f3c1e-5d2a-4f7b-9a61-2c8e4d7f1a30' }),
    scheduledAt: Timestamp.openapi({ description: 'When the deletion was scheduled.' }),
    deleteAfter: Timestamp.openapi({
      description: 'From this time on the organization is deleted (within a minute: the scheduled purge).',
    }),
  })
  .openapi('OrganizationDeletionSchedule', { description: 'A scheduled deletion of an organization.' });
