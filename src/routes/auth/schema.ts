import { z } from '@hono/zod-openapi';
import { ALL_PERMISSIONS, type Permission } from '../../services/auth/permissions.ts';
import { MAX_LISTED_SESSIONS } from '../../services/auth/self-service.ts';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  REFRESH_TOKEN_TTL_SECONDS,
  SESSION_LIFETIME_SECONDS,
} from '../../services/auth/tokens.ts';
import { MAX_CLIENT_ADDRESS, MAX_USER_AGENT } from '../../lib/client.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/auth/passwords.ts';
import { StoredRoleKey } from '../users/schema.ts';
import {
  EmailSchema,
  int32,
  isLocale,
  isTimeZone,
  NameSchema,
  StoredEmail,
  storedLine,
  Timestamp,
  Uuid,
} from '../fields.ts';

// Request bodies are strict: an unknown key (role, organizationId, emailVerified, ids) is a 400, never applied.

/** Passwords are bounded here (cheap) and by the policy in the service (8..128 characters, not common, strong). */
const MAX_PASSWORD_INPUT = 1024;

/**
 * What the document states of a new password: the policy's length in characters (code points after NFKC), checked by
 * the service with a 400 at the field; the schema itself only stops over-long input before any work.
 */
const NEW_PASSWORD_BOUNDS = {
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  format: 'password',
} as const;

const NewPasswordSchema = z
  .string()
  .max(MAX_PASSWORD_INPUT)
  .openapi({
    ...NEW_PASSWORD_BOUNDS,
    description:
      '8 to 128 characters (15 or more recommended), not only whitespace, not on the list of common passwords, and ' +
      'strong by zxcvbn (score 3 or more), also once anything built from the email address, the name, the ' +
      'organization or the product name is taken out. A refusal is a 400 explaining why at this field.',
    example: 'violet-anchor-meadow-42',
  });

const OpaqueTokenSchema = (description: string, example: string) =>
  z.string().min(1).max(256).openapi({ description, example });

export const RegisterBodySchema = z
  .object({ email: EmailSchema, password: NewPasswordSchema, name: NameSchema })
  .strict()
  .openapi('RegisterRequest', { description: 'Self-service sign-up on an organization host.' });

export const LoginBodySchema = z
  .object({
    email: EmailSchema,
    password: z
      .string()
      .min(1)
      .max(MAX_PASSWORD_INPUT)
      .openapi({ description: 'The account password.', format: 'password', example: 'violet-anchor-meadow-42' }),
  })
  .strict()
  .openapi('LoginRequest', { description: 'Email and password.' });

export const RefreshBodySchema = z
  .object({
    refreshToken: OpaqueTokenSchema(
      'The refresh token of the last sign-in or refresh; it is spent by this call.',
      'rt_Vb6s0tq8mI3dXwG1lq0dUo8wH3n3Ckz3G4lEw6vX2aA',
    ),
  })
  .strict()
  .openapi('RefreshRequest');

export const VerifyEmailBodySchema = z
  .object({
    token: OpaqueTokenSchema(
      'The `token` query parameter of the verification link (`ev_...`).',
      'ev_3cQ4m0nF1wq7dZ2yR8kT5vB9xH6jL0pA1sD4fG7hJ2k',
    ),
  })
  .strict()
  .openapi('VerifyEmailRequest');

export const ForgotPasswordBodySchema = z
  .object({ email: EmailSchema })
  .strict()
  .openapi('ForgotPasswordRequest', { description: 'The address to send a reset link to, if it is a member.' });

export const ResetPasswordBodySchema = z
  .object({
    token: OpaqueTokenSchema(
      'The `token` query parameter of a password-reset link (`pr_...`) or of an invitation link (`inv_...`).',
      'pr_9kS2dF4gH6jK8lZ0xC2vB4nM6qW8eR0tY2uI4oP6aS8',
    ),
    password: z
      .string()
      .max(MAX_PASSWORD_INPUT)
      .openapi({
        ...NEW_PASSWORD_BOUNDS,
        description:
          'The new password: 8 to 128 characters (15 or more recommended), not on the list of common passwords, ' +
          'strong by zxcvbn (score 3 or more) also without the parts built from the account’s email address or ' +
          'name, the organization or the product name. ' +
          'For an invitation to an existing account (one that has a password already), the account’s current ' +
          'password instead: it is checked, never replaced.',
        example: 'violet-anchor-meadow-42',
      }),
  })
  .strict()
  .openapi('ResetPasswordRequest', {
    description: 'A reset or invitation token and a password (new, or the current one of an invited existing account).',
  });

export const LogoutQuerySchema = z.object({
  all: z
    .enum(['true', 'false'])
    .optional()
    .openapi({
      param: { name: 'all', in: 'query' },
      description: '`true` ends every session of the user in this organization, not only this one.',
      example: 'true',
    }),
});

const MAX_TIME_ZONE = 64;
const LOCALE_PATTERN = /^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/;
// IANA names (`America/Port-au-Prince`, `Etc/GMT+5`, `UTC`), not bare offsets: a person lives in a place.
const TIME_ZONE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_+/-]*$/;

export const PreferencesSchema = z
  .object({
    theme: z
      .enum(['light', 'dark', 'system'])
      .optional()
      .openapi({ description: 'Preferred color scheme.', example: 'system' }),
    emailNotifications: z
      .boolean()
      .optional()
      .openapi({ description: 'Whether the user wants notification emails.', example: true }),
  })
  .openapi('UserPreferences', { description: 'Personal preferences.' });

export const AuthUserSchema = z
  .object({
    id: Uuid.openapi({ description: 'User id.', example: '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f' }),
    email: StoredEmail.openapi({ description: 'Email address (lowercase).', example: 'ada@example.com' }),
    name: storedLine(200).openapi({ description: 'Display name.', example: 'Ada Lovelace' }),
    emailVerified: z.boolean().openapi({
      description: 'Whether the address is verified; actions that need it answer 403 `email_not_verified` until then.',
      example: false,
    }),
    locale: z
      .string()
      .max(35)
      .regex(LOCALE_PATTERN)
      .openapi({ description: 'Preferred locale (BCP 47).', example: 'en' }),
    timezone: z.string().max(MAX_TIME_ZONE).openapi({
      description: 'The user’s IANA time zone, for times shown to them (security emails included); `UTC` until set.',
      example: 'Europe/Paris',
    }),
    preferences: PreferencesSchema,
    createdAt: Timestamp.openapi({ description: 'When the account was created.', example: '2026-01-15T09:30:00.000Z' }),
  })
  .openapi('AuthUser', { description: 'The signed-in user (never a password or token hash).' });

const DAY_SECONDS = 24 * 60 * 60;
const REFRESH_VALIDITY =
  `valid ${REFRESH_TOKEN_TTL_SECONDS / DAY_SECONDS} days unused, and never beyond ` +
  `${SESSION_LIFETIME_SECONDS / DAY_SECONDS} days after sign-in (then sign in again)`;

/** Far above a real access token (a few claims, the role's permissions, the issuer host): a true upper bound. */
const MAX_ACCESS_TOKEN = 4096;
/** `rt_` and 256 random bits in base64url (43 characters), as `generateOpaqueToken('rt')` writes them. */
const RefreshTokenSchema = z
  .string()
  .max(46)
  .regex(/^rt_[A-Za-z0-9_-]{43}$/);

export const sessionFields = {
  user: AuthUserSchema,
  accessToken: z
    .string()
    .max(MAX_ACCESS_TOKEN)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    .openapi({
      description: `ES256 JWT (typ \`at+jwt\`) for \`Authorization: Bearer\`; valid ${ACCESS_TOKEN_TTL_SECONDS / 60} minutes on this host only.`,
      example: 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiI2ZjFjIn0.c2lnbmF0dXJl',
    }),
  refreshToken: RefreshTokenSchema.openapi({
    description: `Opaque single-use token for POST /api/v1/auth/refresh-token; ${REFRESH_VALIDITY}. Store it securely.`,
    example: 'rt_Vb6s0tq8mI3dXwG1lq0dUo8wH3n3Ckz3G4lEw6vX2aA',
  }),
  expiresIn: int32(1, ACCESS_TOKEN_TTL_SECONDS).openapi({
    description: 'Seconds until the access token expires.',
    example: ACCESS_TOKEN_TTL_SECONDS,
  }),
  tokenType: z.literal('Bearer').openapi({ description: 'Always `Bearer`.', example: 'Bearer' }),
};

export const SessionSchema = z
  .object(sessionFields)
  .openapi('Session', { description: 'A new session: the user, an access token and a refresh token.' });

export const LoginSessionSchema = z
  .object({
    ...sessionFields,
    refreshToken: sessionFields.refreshToken.optional().openapi({
      description:
        `Opaque single-use token for POST /api/v1/auth/refresh-token; ${REFRESH_VALIDITY}. **Absent for platform ` +
        'administrators** signing in on the platform host: their session is the access token alone.',
      example: 'rt_Vb6s0tq8mI3dXwG1lq0dUo8wH3n3Ckz3G4lEw6vX2aA',
    }),
  })
  .openapi('LoginSession', {
    description: 'A new session. On the platform host (platform administrators) there is no refresh token.',
  });

export const MeSchema = z
  .object({
    user: AuthUserSchema,
    organizationId: Uuid.openapi({
      description: 'The organization of this host.',
      example: '0b7e6a1c-2d3f-4e5a-8b9c-1d2e3f4a5b6c',
    }),
    role: z
      .object({
        key: StoredRoleKey.openapi({ description: 'Stable role key.', example: 'organizer' }),
        name: storedLine(100).openapi({ description: 'Role display name.', example: 'Organizer' }),
      })
      .openapi('MembershipRole', { description: 'The role of the membership.' }),
    permissions: z
      .array(z.enum(ALL_PERMISSIONS as [Permission, ...Permission[]]))
      .max(ALL_PERMISSIONS.length)
      .openapi({ description: "The role's current permissions.", example: ['events:read', 'events:write'] }),
  })
  .openapi('Me', { description: 'The signed-in user in this organization.' });

export const AcceptedSchema = z
  .object({
    status: z.literal('accepted').openapi({ description: 'Always `accepted`.', example: 'accepted' }),
    message: storedLine(200).openapi({
      description: 'What happens next.',
      example: 'If this address belongs to a member, a link to reset the password is on its way.',
    }),
  })
  .openapi('Accepted', { description: 'The request was accepted; an email may follow.' });

export const EmailVerifiedSchema = z
  .object({
    emailVerified: z.literal(true).openapi({ description: 'The address is verified now.', example: true }),
  })
  .openapi('EmailVerified');

/** A preference in a profile change: its value, or null to remove it (absent: unchanged). */
const PreferencesPatchSchema = z
  .object({
    theme: z
      .enum(['light', 'dark', 'system'])
      .nullable()
      .optional()
      .openapi({ description: 'Preferred color scheme; null removes it.', example: 'dark' }),
    emailNotifications: z
      .boolean()
      .nullable()
      .optional()
      .openapi({
        description:
          'Whether the user wants notification emails; null removes it. Security notices (password changed, new ' +
          'sign-in) are sent regardless.',
        example: false,
      }),
  })
  .strict()
  .openapi('UserPreferencesPatch', { description: 'Preferences to set (merged key by key into the stored ones).' });

export const ProfilePatchSchema = z
  .object({
    name: NameSchema.optional(),
    locale: z
      .string()
      .max(35)
      .regex(LOCALE_PATTERN, 'Must be a BCP 47 language tag, e.g. fr-FR.')
      .refine(isLocale, 'Must be a BCP 47 language tag, e.g. fr-FR.')
      .transform((tag) => Intl.getCanonicalLocales(tag)[0] ?? tag)
      .optional()
      .openapi({
        description: 'Preferred locale (BCP 47); stored in canonical case (`fr-fr` -> `fr-FR`).',
        example: 'fr-FR',
      }),
    timezone: z
      .string()
      .max(MAX_TIME_ZONE)
      .regex(TIME_ZONE_NAME_PATTERN, 'Must be an IANA time zone name, e.g. Europe/Paris.')
      .refine(isTimeZone, 'Must be an IANA time zone name, e.g. Europe/Paris.')
      .transform((zone) => new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone)
      .optional()
      .openapi({
        description:
          'IANA time zone name (not an offset); stored as Intl spells it (`europe/paris` -> `Europe/Paris`).',
        example: 'Europe/Paris',
      }),
    preferences: PreferencesPatchSchema.optional(),
  })
  .strict()
  .openapi('ProfileUpdate', {
    description:
      'The fields to change; absent fields stay. The account is the same in every organization it belongs to.',
  });

export const ChangePasswordBodySchema = z
  .object({
    currentPassword: z.string().min(1).max(MAX_PASSWORD_INPUT).openapi({
      description: 'The account’s current password.',
      format: 'password',
      example: 'violet-anchor-meadow-42',
    }),
    newPassword: NewPasswordSchema.openapi({
      description:
        'The new password, different from the current one: 8 to 128 characters (15 or more recommended), not on the ' +
        'list of common passwords, strong by zxcvbn (score 3 or more) also without the parts built from the ' +
        'account’s email address or name, the organization or the product name. A refusal is a 400 at this field.',
      example: 'copper-lantern-harbor-77',
    }),
  })
  .strict()
  .openapi('ChangePasswordRequest', { description: 'The current password and the new one.' });

export const SessionTokenSchema = z
  .object({
    accessToken: sessionFields.accessToken,
    expiresIn: sessionFields.expiresIn,
    tokenType: sessionFields.tokenType,
  })
  .openapi('SessionToken', {
    description: 'A new access token of the same session (its refresh token stays as it was).',
  });

export const OwnSessionSchema = z
  .object({
    id: Uuid.openapi({
      description: 'The session id (the `sid` of its access tokens); DELETE /api/v1/auth/sessions/{id} ends it.',
      example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
    }),
    device: storedLine(100).openapi({
      description: 'A short label of the device from its user agent, or `Unknown device`.',
      example: 'Firefox on Windows',
    }),
    userAgent: z.string().max(MAX_USER_AGENT).nullable().openapi({
      description: 'The raw User-Agent of the session’s last sign-in or refresh (null when none was sent).',
      example: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
    }),
    ip: z.string().max(MAX_CLIENT_ADDRESS).nullable().openapi({
      description: 'The client address of the last sign-in or refresh (null when unknown).',
      example: '203.0.113.7',
    }),
    signedInAt: Timestamp.openapi({ description: 'When the session signed in.', example: '2026-11-30T08:12:00.000Z' }),
    lastUsedAt: Timestamp.openapi({
      description: 'The last sign-in or token refresh (access tokens are not tracked per request).',
      example: '2026-12-02T09:41:00.000Z',
    }),
    expiresAt: Timestamp.openapi({
      description: 'When the session ends unless refreshed (never past 30 days after sign-in).',
      example: '2026-12-16T09:41:00.000Z',
    }),
    current: z.boolean().openapi({ description: 'Whether this is the session of the calling token.', example: true }),
  })
  .openapi('OwnSession', { description: 'One of the signed-in user’s sessions in this organization (no token).' });

export const OwnSessionListSchema = z
  .object({
    data: z
      .array(OwnSessionSchema)
      .max(MAX_LISTED_SESSIONS)
      .openapi({
        description: `The live sessions, the most recently used first (at most ${MAX_LISTED_SESSIONS}).`,
      }),
  })
  .openapi('OwnSessionList');

export const SessionIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The session id, as the session list shows it.',
    example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  }),
});
