import { z } from '@hono/zod-openapi';
import { ACCESS_TOKEN_TTL_SECONDS } from '../../services/auth/tokens.ts';
import { MFA_CHALLENGE_TTL_SECONDS } from '../../services/auth/mfa-challenge.ts';
import { SessionSchema } from '../auth/schema.ts';

const MFA_TOKEN_EXAMPLE = 'mfa_v1.Zm9vYmFyYmF6cXV4.c2VhbGVkLWNoYWxsZW5nZS1leGFtcGxl';

export const MfaTokenSchema = z.string().min(1).max(4096).openapi({
  description: 'The `mfaToken` of the sign-in answer: single use, valid 5 minutes, only on the host that issued it.',
  example: MFA_TOKEN_EXAMPLE,
});

const MethodSchema = z.enum(['totp', 'recovery_code']).openapi({
  description: '`totp`: a 6-digit code of the authenticator app; `recovery_code`: one of the recovery codes.',
  example: 'totp',
});

const CodeSchema = z
  .string()
  .min(1)
  .max(64)
  .openapi({ description: 'The 6-digit TOTP code, or a recovery code (`xxxxx-xxxxx`).', example: '492039' });

export const MfaRequiredSchema = z
  .object({
    mfaRequired: z.literal(true).openapi({ description: 'A second step is due: no session yet.', example: true }),
    mfaToken: MfaTokenSchema,
    expiresIn: z
      .number()
      .int()
      .openapi({ description: 'Seconds the token is valid.', example: MFA_CHALLENGE_TTL_SECONDS }),
    methods: z.array(z.enum(['totp', 'webauthn', 'recovery_code'])).openapi({
      description: 'The factors that complete it (or that may be enrolled).',
      example: ['totp', 'recovery_code'],
    }),
    enrollmentRequired: z.boolean().openapi({
      description:
        'The organization requires MFA and the member has no factor yet: the token only enrols one ' +
        '(POST /api/v1/auth/mfa/enrollment/totp) and completes the sign-in with its first code.',
      example: false,
    }),
  })
  .openapi('MfaRequired', {
    description: 'The answer of a password sign-in when a second factor is due.',
  });

export const MfaVerifyBodySchema = z
  .object({ mfaToken: MfaTokenSchema, method: MethodSchema, code: CodeSchema })
  .strict()
  .openapi('MfaVerifyRequest', { description: 'The second step of a sign-in.' });

export const FactorBodySchema = z
  .object({ method: MethodSchema, code: CodeSchema })
  .strict()
  .openapi('MfaFactorRequest', { description: 'A current second factor: a TOTP code or a recovery code.' });

export const TotpCodeBodySchema = z
  .object({ code: CodeSchema })
  .strict()
  .openapi('TotpCodeRequest', { description: 'A code of the authenticator app.' });

export const EnrolmentBodySchema = z
  .object({ mfaToken: MfaTokenSchema })
  .strict()
  .openapi('MfaEnrolmentRequest', { description: 'The `mfaToken` of a sign-in answered with `enrollmentRequired`.' });

export const EnrolmentConfirmBodySchema = z
  .object({ mfaToken: MfaTokenSchema, code: CodeSchema })
  .strict()
  .openapi('MfaEnrolmentConfirmRequest', { description: 'The enrolment token and the first code of the new factor.' });

export const TotpEnrolmentSchema = z
  .object({
    secret: z.string().openapi({
      description: 'The base32 secret (manual entry). Shown once.',
      example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    }),
    otpauthUri: z.string().openapi({
      description: 'For a QR code: issuer = the organization name, account = the email address. Shown once.',
      example:
        'otpauth://totp/Acme:ada%40example.com?issuer=Acme&algorithm=SHA1&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&period=30&digits=6',
    }),
  })
  .openapi('TotpEnrolment', { description: 'A pending TOTP factor: confirm it with a first code.' });

const RECOVERY_EXAMPLE = [
  'k7m2q-x9pfa',
  'h3zrt-8wnbe',
  'c4vyd-pq2mk',
  'a8sjw-nt6rh',
  'e5bqz-m3xkd',
  'u2pcf-r7hyn',
  'w9tkv-d4aem',
  'g6nxs-y2qbp',
  'f3rmh-c8ztj',
  'q7dwa-k5upv',
];

const RecoveryCodesField = z.array(z.string()).openapi({
  description: '10 single-use recovery codes. Shown once: store them somewhere safe.',
  example: RECOVERY_EXAMPLE,
});

export const RecoveryCodesSchema = z
  .object({ recoveryCodes: RecoveryCodesField })
  .openapi('RecoveryCodes', { description: 'A new set of recovery codes (any older set stops working).' });

export const EnrolledSessionSchema = SessionSchema.extend({ recoveryCodes: RecoveryCodesField }).openapi(
  'EnrolledSession',
  { description: 'The completed sign-in of a required enrolment, with the new recovery codes.' },
);

export const MfaStatusSchema = z
  .object({
    totp: z.object({
      enabled: z.boolean().openapi({ example: true }),
      pendingConfirmation: z.boolean().openapi({ description: 'Enrolled, not confirmed yet.', example: false }),
    }),
    recoveryCodesRemaining: z.number().int().openapi({ example: 9 }),
    organizationRequiresMfa: z.boolean().openapi({ example: false }),
  })
  .openapi('MfaStatus', { description: 'The signed-in member’s second factors in this organization.' });

export const ReauthenticateBodySchema = z
  .object({
    password: z.string().min(1).max(1024).openapi({ format: 'password', example: 'violet-anchor-meadow-42' }),
    method: MethodSchema.optional(),
    code: CodeSchema.optional(),
  })
  .strict()
  .openapi('ReauthenticateRequest', {
    description: 'The password, plus `method` and `code` when the account has TOTP here.',
  });

export const ReauthenticatedSchema = z
  .object({
    accessToken: z.string().openapi({
      description: 'A new access token of the same session, `auth_time` now.',
      example: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.sig',
    }),
    expiresIn: z.number().int().openapi({ example: ACCESS_TOKEN_TTL_SECONDS }),
    tokenType: z.literal('Bearer').openapi({ example: 'Bearer' }),
  })
  .openapi('Reauthenticated', { description: 'The session proved again.' });
