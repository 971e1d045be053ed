import { z } from '@hono/zod-openapi';
import { isTimeZone } from '../fields.ts';
export {
  EXAMPLE_EVENT,
  EventSchema,
  instant,
  MAX_DESCRIPTION_LENGTH,
  MAX_EVENT_CAPACITY,
  MAX_TIMEZONE_LENGTH,
  MAX_TITLE_LENGTH,
  VenueSchema,
} from '../events/schema.ts';

export const isTimeZoneField = z
  .string()
  .max(64)
  .refine(isTimeZone, 'Must be an IANA timezone such as Europe/Berlin.')
  .openapi({
    description: 'IANA timezone of the rule (DST is followed: local times stay put).',
    example: 'Europe/Berlin',
  });
