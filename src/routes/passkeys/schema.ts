import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { MAX_PASSKEYS_PER_USER, PASSKEY_CHALLENGE_TTL_SECONDS } from '../../services/auth/passkeys.ts';
import { int32, int64, Timestamp, Uuid } from '../fields.ts';
import { MfaTokenSchema } from '../mfa/schema.ts';

// WebAuthn's JSON serialization (WebAuthn L3 §5.1.8, `PublicKeyCredential.toJSON()`), as browsers and
// @simplewebauthn/browser send it. Binary fields are base64url; the bounds are far above real values (a credential id
// is at most 1023 bytes, an attestation object with a certificate chain a few KiB) and keep input bounded.

const EXAMPLE_CHALLENGE = 'pVw8n7r6Jr6m1sA0yQ1xQe0m8Yy3y3dWl1W3Yp2mH7Y';
const EXAMPLE_CREDENTIAL_ID = 'Xq3n1vQ0c2uG8wA9fL5pYb7kT1mR4eZ6hJ0sD2cV8nU';
export const EXAMPLE_PASSKEY_ID = '3f8a1c2e-7b4d-4e9a-8c1f-2d3e4f5a6b7c';

function base64url(maxLength: number, description: string, example: string) {
  return z
    .string()
    .min(1)
    .max(maxLength)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'Must be base64url.')
    .openapi({ description, example });
}

const CredentialId = base64url(1400, 'The credential id, base64url.', EXAMPLE_CREDENTIAL_ID);

const TRANSPORTS = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'] as const;
const Transport = z.enum(TRANSPORTS);

const CredentialDescriptorSchema = z.object({
  id: CredentialId,
  type: z.literal('public-key'),
  transports: z.array(Transport).max(TRANSPORTS.length).optional(),
});

const PublicKeyType = z.literal('public-key').openapi({ description: 'Always `public-key`.' });

const ClientExtensionResultsSchema = z
  .record(z.string().max(64), z.unknown())
  .refine((value) => Object.keys(value).length <= 16, 'At most 16 extension results.')
  .openapi({ description: 'The client extension results (`getClientExtensionResults()`).', example: {} });

const AttachmentSchema = z
  .enum(['platform', 'cross-platform'])
  .nullable()
  .optional()
  .openapi({ description: 'How the authenticator is attached, as the browser reports it.', example: 'platform' });

export const RegistrationResponseSchema = z
  .strictObject({
    id: CredentialId,
    rawId: CredentialId,
    type: PublicKeyType,
    response: z
      .object({
        clientDataJSON: base64url(8192, 'The client data, base64url.', 'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0'),
        attestationObject: base64url(65536, 'The CBOR attestation object, base64url.', 'o2NmbXRkbm9uZQ'),
        transports: z
          .array(Transport)
          .max(TRANSPORTS.length)
          .optional()
          .openapi({ description: 'The transports the authenticator supports.', example: ['internal', 'hybrid'] }),
        authenticatorData: base64url(
          65536,
          'The authenticator data (also inside the attestation object).',
          'SZYN5Y',
        ).optional(),
        publicKey: base64url(
          4096,
          'The public key as SPKI (unused: the attestation object is authoritative).',
          'MFkw',
        ).optional(),
        publicKeyAlgorithm: int32(-65_536, 65_535)
          .optional()
          .openapi({ description: 'The COSE algorithm.', example: -7 }),
      })
      .openapi({ description: 'The AuthenticatorAttestationResponse.' }),
    clientExtensionResults: ClientExtensionResultsSchema,
    authenticatorAttachment: AttachmentSchema,
  })
  .openapi('PasskeyRegistrationResponse', {
    description: 'What `navigator.credentials.create()` answered, as `PublicKeyCredential.toJSON()` serializes it.',
  });

export const AuthenticationResponseSchema = z
  .strictObject({
    id: CredentialId,
    rawId: CredentialId,
    type: PublicKeyType,
    response: z
      .object({
        clientDataJSON: base64url(8192, 'The client data, base64url.', 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0'),
        authenticatorData: base64url(8192, 'The authenticator data, base64url.', 'SZYN5YgOjGh0NBcPZHZgW4'),
        signature: base64url(2048, 'The assertion signature, base64url.', 'MEUCIQDx'),
        userHandle: base64url(128, 'The user handle the passkey stores, base64url.', 'MTExMTExMTE')
          .nullable()
          .optional()
          .transform((value) => value ?? undefined),
      })
      .openapi({ description: 'The AuthenticatorAssertionResponse.' }),
    clientExtensionResults: ClientExtensionResultsSchema,
    authenticatorAttachment: AttachmentSchema,
  })
  .openapi('PasskeyAssertion', {
    description: 'What `navigator.credentials.get()` answered, as `PublicKeyCredential.toJSON()` serializes it.',
  });

export const PasskeyNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(WITHOUT_CONTROL_CHARACTERS, 'Names cannot contain control characters.')
  .openapi({ description: 'A name the user gives the passkey, to tell it apart.', example: 'MacBook Touch ID' });

export const RegisterPasskeyBodySchema = z
  .strictObject({ name: PasskeyNameSchema, response: RegistrationResponseSchema })
  .openapi('RegisterPasskeyBody');

export const RenamePasskeyBodySchema = z.strictObject({ name: PasskeyNameSchema }).openapi('RenamePasskeyBody');

export const PasskeyAssertionBodySchema = z
  .strictObject({ response: AuthenticationResponseSchema })
  .openapi('PasskeyAssertionBody');

export const PasskeyIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The passkey.',
    example: EXAMPLE_PASSKEY_ID,
  }),
});

export const PasskeySchema = z
  .object({
    id: Uuid.openapi({ description: 'The passkey.', example: EXAMPLE_PASSKEY_ID }),
    name: z.string().max(64).openapi({ description: 'The name the user gave it.', example: 'MacBook Touch ID' }),
    deviceType: z.enum(['singleDevice', 'multiDevice']).openapi({
      description:
        '`multiDevice`: a synced passkey (iCloud Keychain, Google Password Manager); `singleDevice`: bound to one authenticator (a security key).',
      example: 'multiDevice',
    }),
    backedUp: z.boolean().openapi({ description: 'Whether the passkey is backed up (synced).', example: true }),
    transports: z
      .array(z.string().max(32))
      .max(16)
      .openapi({
        description: 'How the browser reaches the authenticator.',
        example: ['internal', 'hybrid'],
      }),
    createdAt: Timestamp.openapi({ example: '2026-12-02T12:00:00.000Z' }),
    lastUsedAt: Timestamp.nullable().openapi({
      description: 'The last sign-in or step-up with it; null before its first use.',
      example: '2026-12-02T12:30:00.000Z',
    }),
  })
  .openapi('Passkey', { description: 'A passkey (WebAuthn credential) of the signed-in user in this organization.' });

export const PasskeyListSchema = z
  .object({ data: z.array(PasskeySchema).max(20) })
  .openapi('PasskeyList', { description: 'The signed-in user’s passkeys here, oldest first (at most 20).' });

const Challenge = base64url(128, 'A single-use random challenge (valid 5 minutes).', EXAMPLE_CHALLENGE);
const Timeout = int64().openapi({
  description: 'Milliseconds the browser may take (the challenge lives as long).',
  example: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
});

export const RegistrationOptionsSchema = z
  .object({
    challenge: Challenge,
    rp: z.object({
      name: z.string().max(200).openapi({ example: 'Acme Events' }),
      id: z
        .string()
        .max(253)
        .openapi({ description: 'The RP ID: this organization’s host.', example: 'acme.eventra.app' }),
    }),
    user: z.object({
      id: base64url(128, 'The user handle, base64url.', 'MTExMTExMTE'),
      name: z.string().max(254).openapi({ example: 'ada@example.com' }),
      displayName: z.string().max(200).openapi({ example: 'Ada Lovelace' }),
    }),
    pubKeyCredParams: z
      .array(z.object({ alg: int32(-65_536, 65_535), type: z.literal('public-key') }))
      .max(8)
      .openapi({
        example: [
          { alg: -7, type: 'public-key' },
          { alg: -8, type: 'public-key' },
          { alg: -257, type: 'public-key' },
        ],
      }),
    timeout: Timeout,
    attestation: z.literal('none'),
    excludeCredentials: z.array(CredentialDescriptorSchema).max(MAX_PASSKEYS_PER_USER).openapi({
      description: 'The user’s passkeys here: the browser refuses to register one of them twice.',
    }),
    authenticatorSelection: z.object({
      residentKey: z.literal('required'),
      userVerification: z.literal('required'),
      requireResidentKey: z.literal(true),
    }),
    extensions: z.object({ credProps: z.literal(true) }),
    hints: z.array(z.string().max(32)).max(0),
  })
  .openapi('PasskeyRegistrationOptions', {
    description:
      'PublicKeyCredentialCreationOptions in their JSON form: pass them to ' +
      '`PublicKeyCredential.parseCreationOptionsFromJSON()` (or `startRegistration({ optionsJSON })` of ' +
      '@simplewebauthn/browser).',
  });

export const AuthenticationOptionsSchema = z
  .object({
    rpId: z
      .string()
      .max(253)
      .openapi({ description: 'The RP ID: this organization’s host.', example: 'acme.eventra.app' }),
    challenge: Challenge,
    allowCredentials: z.array(CredentialDescriptorSchema).max(MAX_PASSKEYS_PER_USER).openapi({
      description: 'Empty for a passwordless sign-in (the browser offers the passkeys it holds for this host).',
      example: [],
    }),
    timeout: Timeout,
    userVerification: z.literal('required'),
  })
  .openapi('PasskeyAuthenticationOptions', {
    description:
      'PublicKeyCredentialRequestOptions in their JSON form: pass them to ' +
      '`PublicKeyCredential.parseRequestOptionsFromJSON()` (or `startAuthentication({ optionsJSON })` of ' +
      '@simplewebauthn/browser).',
  });

export const MfaPasskeyOptionsBodySchema = z
  .strictObject({ mfaToken: MfaTokenSchema })
  .openapi('MfaPasskeyOptionsBody', { description: 'The `mfaToken` of a sign-in answered with `mfaRequired`.' });

export const MfaPasskeyVerifyBodySchema = z
  .strictObject({ mfaToken: MfaTokenSchema, response: AuthenticationResponseSchema })
  .openapi('MfaPasskeyVerifyBody');
