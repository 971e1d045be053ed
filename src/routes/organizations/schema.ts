import { z } from '@hono/zod-openapi';
import type { Organization } from '../../db/schema/index.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/auth/passwords.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import {
  CURRENCY_CODES,
  isLocale,
  isTimeZone,
  ORGANIZATION_SLUG_PATTERN,
  StoredEmail,
  storedLine,
  Timestamp,
  Uuid,
} from '../fields.ts';
import { cursorPage, sortParam } from '../pagination.ts';

// ---------------------------------------------------------------------------------------------------------------
// Field rules shared by requests
// ---------------------------------------------------------------------------------------------------------------

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;
const BASE64URL_OR_BASE64 = /^[A-Za-z0-9_+/=-]+$/;
// What the refinements below enforce, stated for the document (which cannot carry the `u` flag): the same sets.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const SENDER_NAME_PATTERN = /^[^\u0000-\u001f\u007f-\u009f<>"]*$/;
// An origin is `https://` and a host (and port), nothing after: a superset of what isHttpsOrigin accepts.
const ORIGIN_PATTERN = /^https:\/\/[^/?#@*\s]+$/;
// IANA names (`America/Port-au-Prince`, `Etc/GMT+5`) and offsets (`+05:30`), the time zones Intl accepts.
const TIME_ZONE_PATTERN = /^[A-Za-z0-9_+:/-]+$/;
// Every tag Intl.getCanonicalLocales accepts is letters, digits and hyphens.
const LOCALE_PATTERN = /^[A-Za-z0-9-]+$/;

/** Bounds of the stored branding and settings (the patch refuses longer values). */
const MAX_DISPLAY_NAME = 100;
const MAX_SENDER_NAME = 100;
const MAX_LOGO_URL = 2048;
const MAX_TIME_ZONE = 64;
const MAX_LOCALE = 35;
const MAX_ORIGIN = 300;
const MAX_ORIGINS = 20;
// Unicode property escapes need the `u` flag, which OpenAPI patterns cannot carry: these rules are refinements.
const CONTROL_CHARACTER = /\p{Cc}/u;
// The sender name ends up in an email header: no angle brackets or double quotes either.
const SENDER_NAME_FORBIDDEN = /[\p{Cc}<>"]/u;

/** `https://host[:port]` exactly as a browser sends it in `Origin`: no path, query, credentials or wildcard. */
function isHttpsOrigin(value: string): boolean {
  if (value.includes('*')) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && url.origin === value;
}

function isHttpsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && url.username === '' && url.password === '' && url.hostname.length > 0;
}

const displayText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((value) => !CONTROL_CHARACTER.test(value), 'Must not contain control characters.')
    .openapi({ pattern: WITHOUT_CONTROL_CHARACTERS.source });

const senderName = () =>
  z
    .string()
    .trim()
    .min(1)
    .max(MAX_SENDER_NAME)
    .refine(
      (value) => !SENDER_NAME_FORBIDDEN.test(value),
      'Must not contain control characters, angle brackets or double quotes.',
    )
    .openapi({ pattern: SENDER_NAME_PATTERN.source });

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

export const OrganizationBrandingSchema = z
  .object({
    displayName: storedLine(MAX_DISPLAY_NAME)
      .optional()
      .openapi({ description: 'Name shown to customers and in emails.', example: 'Acme Events' }),
    logoUrl: z
      .string()
      .max(MAX_LOGO_URL)
      .optional()
      .openapi({ description: 'HTTPS URL of the logo.', format: 'uri', example: 'https://cdn.acme.com/logo.png' }),
    primaryColor: z
      .string()
      .max(7)
      .regex(HEX_COLOR)
      .optional()
      .openapi({ description: 'Primary brand color.', example: '#4f46e5' }),
    accentColor: z
      .string()
      .max(7)
      .regex(HEX_COLOR)
      .optional()
      .openapi({ description: 'Accent brand color.', example: '#f59e0b' }),
    emailSenderName: z
      .string()
      .max(MAX_SENDER_NAME)
      .regex(SENDER_NAME_PATTERN)
      .optional()
      .openapi({ description: 'Sender display name of transactional emails.', example: 'Acme Tickets' }),
  })
  .openapi('OrganizationBranding', { description: 'White-label branding; every field is optional.' });

export const OrganizationSettingsSchema = z
  .object({
    timezone: z
      .string()
      .max(MAX_TIME_ZONE)
      .regex(TIME_ZONE_PATTERN)
      .optional()
      .openapi({ description: 'IANA time zone.', example: 'Europe/Paris' }),
    currency: z.enum(CURRENCY_CODES).optional().openapi({ description: 'ISO 4217 currency code.', example: 'EUR' }),
    locale: z
      .string()
      .max(MAX_LOCALE)
      .regex(LOCALE_PATTERN)
      .optional()
      .openapi({ description: 'BCP 47 language tag.', example: 'fr-FR' }),
    allowedOrigins: z
      .array(z.string().max(MAX_ORIGIN).regex(ORIGIN_PATTERN))
      .max(MAX_ORIGINS)
      .optional()
      .openapi({
        description: 'Browser origins allowed to call this organization host (CORS).',
        example: ['https://tickets.acme.com'],
      }),
    requireMfa: z
      .boolean()
      .optional()
      .openapi({
        description:
          'Members whose role has any permission must use a second factor: without one, their next sign-in only ' +
          'lets them enrol one. Members without permissions choose for themselves.',
        example: true,
      }),
  })
  .openapi('OrganizationSettings', { description: 'Regional settings, the CORS allow-list and the MFA policy.' });

export const OrganizationSchema = z
  .object({
    id: Uuid.openapi({ description: 'Organization id.', example: '0b9f3c1e-5d2a-4f7b-9a61-2c8e4d7f1a30' }),
    slug: z
      .string()
      .max(63)
      .regex(ORGANIZATION_SLUG_PATTERN)
      .openapi({ description: 'Subdomain label: the host is `{slug}.{ROOT_DOMAIN}`.', example: 'acme' }),
    name: storedLine(200).openapi({ description: 'Legal or display name.', example: 'Acme Events Ltd' }),
    plan: z.enum(['starter', 'pro', 'enterprise']).openapi({ description: 'Subscription plan.', example: 'starter' }),
    status: z.enum(['active', 'suspended']).openapi({
      description: 'A suspended organization is not served: its host answers 404.',
      example: 'active',
    }),
    branding: OrganizationBrandingSchema,
    settings: OrganizationSettingsSchema,
    createdAt: Timestamp.openapi({ description: 'Creation time (UTC).', example: '2026-01-15T09:30:00.000Z' }),
    updatedAt: Timestamp.openapi({
      description: 'Time of the last change (UTC).',
      example: '2026-02-01T12:00:00.000Z',
    }),
  })
  .openapi('Organization', { description: 'An organization (tenant).' });

export type OrganizationResponse = z.infer<typeof OrganizationSchema>;

/**
 * Stored JSON settings are shown as far as they are readable: a field that does not match its response schema (a
 * wrong type, an over-long or malformed value written by older code or by hand) is left out, never a 500.
 */
function readableFields(stored: object, shape: z.core.$ZodShape): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const value: unknown = (stored as Record<string, unknown>)[key];
    if (value !== undefined && z.safeParse(schema, value).success) fields[key] = value;
  }
  return fields;
}

/** The response view of a row: re-parsed through the schema, so a new column can never leak. */
export function presentOrganization(row: Organization): OrganizationResponse {
  return OrganizationSchema.parse({
    ...row,
    branding: readableFields(row.branding, OrganizationBrandingSchema.shape),
    settings: readableFields(row.settings, OrganizationSettingsSchema.shape),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  });
}

export const OrganizationOwnerSchema = z
  .object({
    id: Uuid.openapi({ description: 'User id of the owner.', example: '6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87' }),
    email: StoredEmail.openapi({ description: 'Owner email (lowercased).', example: 'jane@acme.com' }),
    name: storedLine(200).openapi({ description: 'Owner name.', example: 'Jane Doe' }),
    emailVerified: z.boolean().openapi({
      description: 'Whether the email address is verified; a new account gets a verification email.',
      example: false,
    }),
    role: z.literal('owner').openapi({ description: 'The owner role of the new organization.', example: 'owner' }),
  })
  .openapi('OrganizationOwner', { description: 'The first member of a new organization.' });

export const SignupResponseSchema = z
  .object({ organization: OrganizationSchema, owner: OrganizationOwnerSchema })
  .openapi('OrganizationSignup', { description: 'The new organization and its owner.' });

export type SignupResponse = z.infer<typeof SignupResponseSchema>;

export const OrganizationListSchema = cursorPage(OrganizationSchema, {
  name: 'OrganizationList',
  items: 'One page of organizations, ordered by slug.',
  cursorExample: 'czphY21l',
  description: 'A page of organizations.',
  maxItems: 100,
});

export type OrganizationListResponse = z.infer<typeof OrganizationListSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const SignupRequestSchema = z
  .object({
    name: displayText(200).openapi({
      description: 'Organization name: 1 to 200 characters, no control characters.',
      example: 'Acme Events',
    }),
    slug: z
      .string()
      .min(1)
      .max(63)
      .regex(ORGANIZATION_SLUG_PATTERN, 'Lowercase letters, digits and inner hyphens, 1 to 63 characters.')
      .openapi({
        description:
          'Subdomain label (`{slug}.{ROOT_DOMAIN}`): lowercase letters, digits and inner hyphens, 1 to 63 ' +
          'characters. Reserved words (www, api, admin, support, ...) and taken slugs answer 409.',
        example: 'acme',
      }),
    plan: z
      .enum(['starter', 'pro'])
      .default('starter')
      .openapi({
        description:
          'Self-serve plans only: `starter` (default) or `pro`. `enterprise` is contracted, so it is set by a ' +
          'platform administrator and refused here with 400.',
        example: 'starter',
      }),
    owner: z
      .object({
        email: z.email().max(254).openapi({ description: 'Owner email; stored lowercased.', example: 'jane@acme.com' }),
        password: z
          .string()
          .min(1)
          .max(PASSWORD_MAX_LENGTH * 8)
          .openapi({
            format: 'password',
            description:
              `A new account's password: ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters, not a common ` +
              'password, strong by zxcvbn and not built from the email address, the names or the product name (15 or ' +
              'more characters is better). If the email already has an Eventra account, give ' +
              "that account's password: the organization is added to it.",
            example: 'long and unusual passphrase',
          }),
        name: displayText(200).openapi({
          description: 'Owner name, 1 to 200 characters (ignored when the email already has an account).',
          example: 'Jane Doe',
        }),
      })
      .strict()
      .openapi('OrganizationOwnerInput', { description: 'The account that owns the new organization.' }),
  })
  .strict()
  .openapi('OrganizationSignupRequest', { description: 'Self-serve sign-up of an organization.' });

export type SignupRequest = z.infer<typeof SignupRequestSchema>;

export const OrganizationListQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .openapi({ description: 'Page size, 1 to 100.', format: 'int32', example: 20 }),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .regex(BASE64URL_OR_BASE64, 'Not a cursor from this list; pass nextCursor as it was returned.')
    .optional()
    .openapi({ description: '`nextCursor` of the previous page.', example: 'czphY21l' }),
  status: z.enum(['active', 'suspended']).optional().openapi({ description: 'Only this status.', example: 'active' }),
  plan: z.enum(['starter', 'pro', 'enterprise']).optional().openapi({ description: 'Only this plan.', example: 'pro' }),
  q: z.string().trim().min(1).max(100).optional().openapi({
    description: 'Prefix of the slug or of the name (case-insensitive).',
    example: 'acm',
  }),
  sort: sortParam(['slug', '-slug'] as const, 'Order of the organizations by slug.'),
});

const BrandingPatchSchema = z
  .object({
    displayName: displayText(MAX_DISPLAY_NAME)
      .nullable()
      .optional()
      .openapi({ description: 'Name shown to customers and in emails; null removes it.', example: 'Acme Events' }),
    logoUrl: z
      .string()
      .max(MAX_LOGO_URL)
      .refine(isHttpsUrl, 'Must be an https URL without credentials.')
      .nullable()
      .optional()
      .openapi({
        description: 'HTTPS URL of the logo; null removes it.',
        format: 'uri',
        example: 'https://cdn.acme.com/logo.png',
      }),
    primaryColor: z
      .string()
      .max(7)
      .regex(HEX_COLOR, 'Must be a #rrggbb color.')
      .nullable()
      .optional()
      .openapi({ description: 'Primary color, `#rrggbb`; null removes it.', example: '#4f46e5' }),
    accentColor: z
      .string()
      .max(7)
      .regex(HEX_COLOR, 'Must be a #rrggbb color.')
      .nullable()
      .optional()
      .openapi({ description: 'Accent color, `#rrggbb`; null removes it.', example: '#f59e0b' }),
    emailSenderName: senderName()
      .nullable()
      .optional()
      .openapi({ description: 'Sender display name of emails; null removes it.', example: 'Acme Tickets' }),
  })
  .strict()
  .openapi('OrganizationBrandingPatch', {
    description: 'Branding fields to set (merged into the current branding; null removes a field).',
  });

const SettingsPatchSchema = z
  .object({
    timezone: z
      .string()
      .max(MAX_TIME_ZONE)
      .refine(isTimeZone, 'Must be an IANA time zone, e.g. Europe/Paris.')
      .openapi({ pattern: TIME_ZONE_PATTERN.source })
      .nullable()
      .optional()
      .openapi({ description: 'IANA time zone; null removes it.', example: 'Europe/Paris' }),
    currency: z
      .enum(CURRENCY_CODES, 'Must be an ISO 4217 code, e.g. EUR.')
      .nullable()
      .optional()
      .openapi({ description: 'ISO 4217 currency code; null removes it.', example: 'EUR' }),
    locale: z
      .string()
      .max(MAX_LOCALE)
      .refine(isLocale, 'Must be a BCP 47 language tag, e.g. fr-FR.')
      .openapi({ pattern: LOCALE_PATTERN.source })
      .nullable()
      .optional()
      .openapi({ description: 'BCP 47 language tag; null removes it.', example: 'fr-FR' }),
    allowedOrigins: z
      .array(
        z
          .string()
          .max(MAX_ORIGIN)
          .refine(isHttpsOrigin, 'Must be an origin https://host[:port], without wildcard, path or trailing slash.')
          .openapi({ pattern: ORIGIN_PATTERN.source }),
      )
      .max(MAX_ORIGINS)
      .refine((origins) => new Set(origins).size === origins.length, 'Origins must be unique.')
      .nullable()
      .optional()
      .openapi({
        description:
          'Browser origins allowed to call this host (CORS), at most 20, each `https://host[:port]`; replaces the ' +
          'whole list; null removes it.',
        example: ['https://tickets.acme.com', 'https://acme.com'],
      }),
    requireMfa: z
      .boolean()
      .nullable()
      .optional()
      .openapi({
        description:
          'Require a second factor of members whose role has any permission (at their next sign-in); null removes ' +
          'the policy. Changing it needs a recent sign-in (step-up: 401 `reauthentication_required` otherwise).',
        example: true,
      }),
  })
  .strict()
  .openapi('OrganizationSettingsPatch', {
    description: 'Settings to set (merged into the current settings; null removes a field).',
  });

export const OrganizationUpdateSchema = z
  .object({
    name: displayText(200).optional().openapi({
      description: 'Organization host only: the organization name.',
      example: 'Acme Events Ltd',
    }),
    branding: BrandingPatchSchema.optional(),
    settings: SettingsPatchSchema.optional(),
    status: z.enum(['active', 'suspended']).optional().openapi({
      description: 'Platform host only: `suspended` takes the organization offline (its host answers 404).',
      example: 'suspended',
    }),
    plan: z.enum(['starter', 'pro', 'enterprise']).optional().openapi({
      description: 'Platform host only: the subscription plan.',
      example: 'enterprise',
    }),
  })
  .strict()
  .openapi('OrganizationUpdate', {
    description:
      'On an organization host, administrators (organization:manage) send `name`, `branding` and `settings`. On ' +
      'the platform host, platform administrators send `status` and `plan`. Any other field, or a field of the ' +
      'other host, answers 400.',
  });

export type OrganizationUpdateRequest = z.infer<typeof OrganizationUpdateSchema>;

export const OrganizationIdParamsSchema = z.object({
  id: z
    .string()
    .max(100)
    .openapi({
      param: { name: 'id', in: 'path' },
      description: 'Organization id (UUID). On an organization host only its own id exists.',
      format: 'uuid',
      example: '0b9f3c1e-5d2a-4f7b-9a61-2c8e4d7f1a30',
    }),
});
