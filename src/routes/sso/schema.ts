import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { MAX_SSO_CONNECTIONS } from '../../services/sso/connections.ts';
import { MICROSOFT_TENANT } from '../../services/sso/social.ts';
import { int32, Timestamp, Uuid } from '../fields.ts';

const ConnectionType = z.enum(['oidc', 'saml', 'google', 'microsoft', 'linkedin']);
const connectionType = (description: string) => ConnectionType.openapi({ description, example: 'oidc' });

export const EXAMPLE_SSO_CONNECTION_ID = '3c9d2e1f-7a6b-4c5d-9e8f-0a1b2c3d4e5f';
const ROLE_KEY = /^[a-z][a-z0-9_-]{0,49}$/;

const line = (max: number) =>
  z.string().trim().min(1).max(max).regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.');

const roleKey = () =>
  z.string().max(50).regex(ROLE_KEY).openapi({ description: 'A role key of this organization.', example: 'staff' });

const ClaimsSchema = z
  .object({
    email: z.string().min(1).max(100).default('email').openapi({ description: 'The email claim.', example: 'email' }),
    name: z.string().min(1).max(100).default('name').openapi({ description: 'The name claim.', example: 'name' }),
    groups: z
      .string()
      .min(1)
      .max(100)
      .default('groups')
      .openapi({ description: 'The claim listing the groups (an array of strings).', example: 'groups' }),
    emailVerified: z
      .string()
      .min(1)
      .max(100)
      .default('email_verified')
      .openapi({
        description:
          'The claim that vouches for the email (true, or "true"): `email_verified` (the standard), or `xms_edov` ' +
          'for Microsoft Entra ID, which sends no email_verified (add the optional claim xms_edov).',
        example: 'email_verified',
      }),
  })
  .strict()
  .openapi('SsoClaimMapping', {
    description: 'Which ID token claims carry the email, the name, the groups and the email’s verification.',
  });

const RoleMappingSchema = z
  .record(z.string().min(1).max(200), roleKey())
  .refine((mapping) => Object.keys(mapping).length <= 50, 'At most 50 groups.')
  .openapi({
    description:
      'IdP group -> role key. At every sign-in the first entry whose group the user is in sets the role; ' +
      'no match: the default role.',
    example: { 'eventra-admins': 'admin', 'door-staff': 'staff' },
  });

const oidcFields = {
  issuer: z
    .url()
    .max(500)
    .openapi({
      description:
        'The issuer (https on the default port, a public host); its discovery document is ' +
        '`<issuer>/.well-known/openid-configuration`.',
      example: 'https://login.example.com',
    }),
  clientId: line(500).openapi({ description: 'The client id registered at the IdP.', example: 'eventra-acme' }),
  scopes: z
    .array(
      z
        .string()
        .max(100)
        .regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/),
    )
    .max(20)
    .default(['openid', 'email', 'profile'])
    .refine((scopes) => scopes.includes('openid'), 'Must include openid.')
    .openapi({ description: 'Scopes requested; must include `openid`.', example: ['openid', 'email', 'profile'] }),
  claims: ClaimsSchema.default({ email: 'email', name: 'name', groups: 'groups', emailVerified: 'email_verified' }),
};

export const SsoConnectionSchema = z
  .object({
    id: Uuid.openapi({ description: 'Connection id.', example: EXAMPLE_SSO_CONNECTION_ID }),
    type: connectionType(
      'What it signs in with: an OpenID Connect IdP (`oidc`), a SAML 2.0 IdP (`saml`), or a social provider ' +
        '(`google`, `microsoft`, `linkedin`: OpenID Connect with the provider built in).',
    ),
    name: z.string().max(100).openapi({ description: 'Shown to members.', example: 'Acme Okta' }),
    enabled: z.boolean().openapi({ description: 'Whether sign-in through it works.', example: true }),
    jit: z.boolean().openapi({
      description: 'Whether the first sign-in creates the membership (otherwise only existing members sign in).',
      example: true,
    }),
    defaultRole: roleKey(),
    roleMapping: z.record(z.string().max(200), z.string().max(50)).openapi({
      description: 'IdP group -> role key, re-applied at every sign-in.',
      example: { 'eventra-admins': 'admin' },
    }),
    oidc: z
      .object({
        issuer: z.string().max(500).openapi({ description: 'The issuer.', example: 'https://login.example.com' }),
        clientId: z.string().max(500).openapi({ description: 'The client id.', example: 'eventra-acme' }),
        scopes: z
          .array(z.string().max(100))
          .max(20)
          .openapi({ description: 'Scopes requested.', example: ['openid', 'email'] }),
        claims: z.object({
          email: z.string().max(100),
          name: z.string().max(100),
          groups: z.string().max(100),
          emailVerified: z.string().max(100),
        }),
        clientSecretSet: z.boolean().openapi({
          description: 'Whether a client secret is stored (it is never shown).',
          example: true,
        }),
      })
      .nullable()
      .openapi({ description: 'The OpenID Connect settings (null for a SAML connection).' }),
    saml: z
      .object({
        idpEntityId: z.string().max(1024).openapi({
          description: "The IdP's entityID (every assertion's Issuer).",
          example: 'http://www.okta.com/exk1a2b3c4',
        }),
        ssoUrl: z.string().max(2048).openapi({
          description: "The IdP's SingleSignOnService (HTTP-Redirect).",
          example: 'https://acme.okta.com/app/acme_eventra/exk1a2b3c4/sso/saml',
        }),
        signingCertificates: z
          .array(
            z.object({
              sha256Fingerprint: z.string().max(95).openapi({
                description: "The certificate's SHA-256 fingerprint, as IdP consoles show it.",
                example:
                  '3A:7F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD',
              }),
            }),
          )
          .max(4)
          .openapi({ description: 'The certificates a signature may come from (several during a rotation).' }),
        allowIdpInitiated: z.boolean().openapi({
          description: 'Whether sign-ins started at the IdP are accepted.',
          example: false,
        }),
        idpInitiatedRedirectUri: z.string().max(2000).nullable().openapi({
          description: 'Where a sign-in started at the IdP lands, unless its RelayState is an allowed redirect.',
          example: 'https://tickets.acme.com/sso/done',
        }),
        emailVerifiedByIdp: z.boolean().openapi({
          description: 'Whether the IdP vouches for the emails it asserts (needed to link or create accounts).',
          example: true,
        }),
        nameIdFormat: z.string().max(256).nullable().openapi({
          description: 'The NameID format requested.',
          example: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        }),
        attributes: z.object({ email: z.string().max(256), name: z.string().max(256), groups: z.string().max(256) }),
        serviceProvider: z
          .object({
            entityId: z
              .string()
              .max(2048)
              .openapi({
                description: 'Our entityID (the Audience): also the metadata URL.',
                example: `https://acme.eventra.app/api/v1/sso/saml/${EXAMPLE_SSO_CONNECTION_ID}/metadata`,
              }),
            acsUrl: z
              .string()
              .max(2048)
              .openapi({
                description: 'Our Assertion Consumer Service (HTTP-POST): the Recipient and Destination.',
                example: `https://acme.eventra.app/api/v1/sso/saml/${EXAMPLE_SSO_CONNECTION_ID}/acs`,
              }),
            metadataUrl: z
              .string()
              .max(2048)
              .openapi({
                description: 'Our SP metadata, for the IdP administrator.',
                example: `https://acme.eventra.app/api/v1/sso/saml/${EXAMPLE_SSO_CONNECTION_ID}/metadata`,
              }),
          })
          .openapi({ description: 'What to enter at the IdP.' }),
      })
      .nullable()
      .openapi({ description: 'The SAML 2.0 settings (null for any other type).' }),
    social: z
      .object({
        provider: z
          .enum(['google', 'microsoft', 'linkedin'])
          .openapi({ description: 'The provider.', example: 'google' }),
        clientId: z.string().max(500).nullable().openapi({
          description: "The organization's own OAuth client id; null when the platform's client is used.",
          example: '1234567890-abc.apps.googleusercontent.com',
        }),
        clientSecretSet: z.boolean().openapi({
          description: "Whether the organization's client secret is stored (it is never shown).",
          example: true,
        }),
        tenant: z
          .string()
          .max(36)
          .nullable()
          .openapi({
            description:
              'Microsoft only: who may sign in: `organizations` (work or school accounts of any Entra ID tenant), ' +
              '`common` (also personal accounts), `consumers` (personal accounts only) or one tenant id. Null otherwise.',
            example: 'organizations',
          }),
        redirectUri: z
          .string()
          .max(2048)
          .openapi({
            description:
              "The redirect URI the client must have registered at the provider: this organization's callback for its " +
              "own client, the platform host's for the platform's.",
            example: 'https://acme.eventra.app/api/v1/sso/callback',
          }),
      })
      .nullable()
      .openapi({ description: 'The social provider settings (null for `oidc` and `saml`).' }),
    createdAt: Timestamp.openapi({ description: 'Created.', example: '2026-11-01T10:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-11-01T10:00:00.000Z' }),
  })
  .openapi('SsoConnection', { description: 'A single sign-on connection, without its client secret.' });

export const SsoConnectionListSchema = z
  .object({ items: z.array(SsoConnectionSchema).max(MAX_SSO_CONNECTIONS) })
  .openapi('SsoConnectionList', { description: `The organization's connections (at most ${MAX_SSO_CONNECTIONS}).` });

const connectionFields = {
  name: line(100).openapi({ description: 'Shown to members, 1 to 100 characters.', example: 'Acme Okta' }),
  enabled: z.boolean().default(true).openapi({ description: 'Sign-in works through it.', example: true }),
  jit: z.boolean().default(true).openapi({ description: 'Create memberships at first sign-in.', example: true }),
  defaultRole: roleKey(),
  roleMapping: RoleMappingSchema.default({}),
};

const certificate = z
  .string()
  .max(16_384)
  .openapi({ description: 'An X.509 signing certificate, PEM or bare base64.', example: 'MIIC8DCCAdigAwIBAgIQ...' });

const OidcConnectionCreateSchema = z
  .object({
    type: z.literal('oidc').openapi({ description: 'The protocol (`oidc`).', example: 'oidc' }),
    ...connectionFields,
    oidc: z
      .object({
        ...oidcFields,
        clientSecret: z
          .string()
          .min(1)
          .max(1000)
          .optional()
          .openapi({ description: 'The client secret (stored encrypted, never shown).', example: 's3cr3t' }),
      })
      .strict(),
  })
  .strict()
  .openapi('OidcConnectionCreate', { description: 'A new OpenID Connect connection.' });

const SamlConnectionCreateSchema = z
  .object({
    type: z.literal('saml').openapi({ description: 'The protocol (`saml`).', example: 'saml' }),
    ...connectionFields,
    saml: z
      .object({
        metadataXml: z
          .string()
          .max(512 * 1024)
          .optional()
          .openapi({
            description:
              "The IdP's metadata (an EntityDescriptor): supplies the entityID, SSO URL and certificates; fields given " +
              'beside it win.',
            example: '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="...">...',
          }),
        metadataUrl: z
          .url()
          .max(2048)
          .optional()
          .openapi({
            description:
              "The IdP's metadata URL (https on the default port, a public host; Okta's metadata link, Entra ID's App " +
              'Federation Metadata Url), fetched once at creation instead of metadataXml.',
            example: 'https://acme.okta.com/app/exk1a2b3c4/sso/saml/metadata',
          }),
        idpEntityId: z.string().min(1).max(1024).optional().openapi({
          description: "The IdP's entityID (required without metadataXml).",
          example: 'http://www.okta.com/exk1a2b3c4',
        }),
        ssoUrl: z.url().max(2048).optional().openapi({
          description: "The IdP's SingleSignOnService for HTTP-Redirect (required without metadataXml).",
          example: 'https://acme.okta.com/app/acme_eventra/exk1a2b3c4/sso/saml',
        }),
        signingCertificates: z.array(certificate).min(1).max(4).optional().openapi({
          description: "The IdP's signing certificates, 1 to 4 (required without metadataXml).",
        }),
        allowIdpInitiated: z
          .boolean()
          .default(false)
          .openapi({
            description:
              'Accept sign-ins started at the IdP (the tile in its portal). Off by default: such a sign-in was not ' +
              'asked for by the app, so it cannot be bound to the app’s state or PKCE. Needs idpInitiatedRedirectUri.',
            example: false,
          }),
        idpInitiatedRedirectUri: z
          .url()
          .max(2000)
          .optional()
          .openapi({
            description:
              "Where a sign-in started at the IdP lands with its one-time code: this organization's origin or one of " +
              'its settings.allowedOrigins (an IdP RelayState that is such a URL wins).',
            example: 'https://tickets.acme.com/sso/done',
          }),
        emailVerifiedByIdp: z
          .boolean()
          .default(false)
          .openapi({
            description:
              'The IdP vouches for the emails it asserts (your own directory). Without it SAML sign-ins never link ' +
              'or create accounts by email, only members already linked sign in.',
            example: true,
          }),
        nameIdFormat: z.string().max(256).optional().openapi({
          description: 'The NameID format to request.',
          example: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        }),
        attributes: z
          .object({
            email: z.string().min(1).max(256).default('email'),
            name: z.string().min(1).max(256).default('name'),
            groups: z.string().min(1).max(256).default('groups'),
          })
          .strict()
          .optional()
          .openapi({ description: 'The attribute names carrying the email, the name and the groups.' }),
      })
      .strict(),
  })
  .strict()
  .openapi('SamlConnectionCreate', { description: 'A new SAML 2.0 connection.' });

const PROVIDER_NAMES = { google: 'Google', microsoft: 'Microsoft', linkedin: 'LinkedIn' } as const;

/** A new social connection of one provider: the provider's client of the organization, or the platform's. */
function socialConnectionCreate<P extends keyof typeof PROVIDER_NAMES, E extends z.ZodRawShape>(provider: P, extra: E) {
  const name = PROVIDER_NAMES[provider];
  return z
    .object({
      type: z.literal(provider).openapi({ description: `The provider (\`${provider}\`).`, example: provider }),
      ...connectionFields,
      name: line(100)
        .default(name)
        .openapi({ description: `Shown to members (default "${name}").`, example: name }),
      social: z
        .object({
          clientId: line(500)
            .optional()
            .openapi({
              description: `The organization's own ${name} OAuth client id (with clientSecret). Without it, the platform's client is used.`,
              example: 'eventra-acme-client',
            }),
          clientSecret: z.string().min(1).max(1000).optional().openapi({
            description: 'Its client secret (stored encrypted, never shown).',
            example: 's3cr3t',
          }),
          ...extra,
        })
        .strict()
        .optional()
        .openapi({ description: "The provider's client; left out (or empty) for the platform's." }),
    })
    .strict()
    .openapi(`${name}ConnectionCreate`, { description: `A new ${name} sign-in connection.` });
}

export const SsoConnectionCreateSchema = z
  .discriminatedUnion('type', [
    OidcConnectionCreateSchema,
    SamlConnectionCreateSchema,
    socialConnectionCreate('google', {}),
    socialConnectionCreate('microsoft', {
      tenant: z
        .string()
        .max(36)
        .regex(MICROSOFT_TENANT)
        .optional()
        .openapi({
          description:
            'Who may sign in: `organizations` (default: work or school accounts of any Entra ID tenant), `common` ' +
            '(also personal accounts), `consumers` (personal accounts only) or one tenant id.',
          example: 'organizations',
        }),
    }),
    socialConnectionCreate('linkedin', {}),
  ])
  .openapi('SsoConnectionCreate', {
    description: 'A new OIDC, SAML or social (Google, Microsoft, LinkedIn) connection.',
    example: {
      type: 'oidc',
      name: 'Acme Okta',
      enabled: true,
      jit: true,
      defaultRole: 'staff',
      roleMapping: { 'eventra-admins': 'admin' },
      oidc: {
        issuer: 'https://acme.okta.com',
        clientId: '0oa1b2c3d4',
        clientSecret: 's3cr3t',
        scopes: ['openid', 'email', 'profile', 'groups'],
        claims: { email: 'email', name: 'name', groups: 'groups' },
      },
    },
  });

export const SsoConnectionIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The connection id (a UUID; anything else answers 400).',
    example: EXAMPLE_SSO_CONNECTION_ID,
  }),
});

const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export const SsoAuthorizeBodySchema = z
  .object({
    connectionId: Uuid.openapi({
      description: 'The OIDC connection to sign in with.',
      example: EXAMPLE_SSO_CONNECTION_ID,
    }),
    redirectUri: z
      .string()
      .max(2000)
      .openapi({
        description:
          "Where the browser goes when the sign-in ends: this organization's origin or one of its " +
          '`settings.allowedOrigins` (https; no fragment). Anything else is refused (no open redirects).',
        example: 'https://tickets.acme.com/sso/done',
      }),
    state: z
      .string()
      .min(1)
      .max(500)
      .regex(/^[\x20-\x7E]+$/, 'Printable ASCII only.')
      .optional()
      .openapi({ description: "The app's own value, handed back unchanged at `redirectUri`.", example: 'k2Jd93' }),
    codeChallenge: z
      .string()
      .max(43)
      .regex(CODE_CHALLENGE)
      .optional()
      .openapi({
        description:
          "The app's PKCE challenge (S256 of a verifier, base64url, 43 characters). When given, POST /api/v1/sso/token " +
          'requires the verifier: a code intercepted on the way back to the app is useless without it.',
        example: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      }),
    loginHint: z.string().max(320).regex(WITHOUT_CONTROL_CHARACTERS).optional().openapi({
      description: 'Passed to the IdP as `login_hint` (usually the email address the user typed).',
      example: 'ada@acme.com',
    }),
  })
  .strict()
  .openapi('SsoAuthorizeRequest');

export const SsoAuthorizationSchema = z
  .object({
    authorizationUrl: z.url().max(8000).openapi({
      description: "The IdP's authorization URL (code flow, PKCE S256, state, nonce): send the browser there.",
      example: 'https://login.acme.com/oauth2/v1/authorize?client_id=eventra-acme&response_type=code&state=Xk2',
    }),
    expiresIn: int32(1, 3600).openapi({
      description: 'Seconds the sign-in may take before it must start again.',
      example: 600,
    }),
  })
  .openapi('SsoAuthorization');

export const SsoCallbackQuerySchema = z.object({
  state: z.string().max(500).optional().openapi({ description: 'The state this API sent the IdP.', example: 'a1b2' }),
  code: z.string().max(4000).optional().openapi({ description: "The IdP's authorization code.", example: 'x9y8' }),
  iss: z
    .string()
    .max(500)
    .optional()
    .openapi({ description: 'The issuer (RFC 9207).', example: 'https://login.acme.com' }),
  error: z.string().max(200).optional().openapi({ description: "The IdP's error code.", example: 'access_denied' }),
  error_description: z
    .string()
    .max(2000)
    .optional()
    .openapi({ description: "The IdP's error text.", example: 'User cancelled' }),
});

export const SsoTokenBodySchema = z
  .object({
    code: z.string().min(1).max(200).openapi({
      description: 'The one-time code from the redirect to `redirectUri` (valid 60 seconds, single use).',
      example: 'ssoc_4f1d0c2b9e8a7f6e5d4c3b2a19080706',
    }),
    codeVerifier: z.string().max(128).regex(CODE_VERIFIER).optional().openapi({
      description: 'The PKCE verifier of the `codeChallenge` sent to POST /api/v1/sso/authorize (required then only).',
      example: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    }),
  })
  .strict()
  .openapi('SsoTokenRequest');

export const LinkedIdentitySchema = z
  .object({
    id: Uuid.openapi({ description: 'Identity id.', example: '5d0c1b2a-3f4e-4a5b-8c6d-7e8f9a0b1c2d' }),
    connection: z
      .object({
        id: Uuid.openapi({ description: 'The connection.', example: EXAMPLE_SSO_CONNECTION_ID }),
        name: z.string().max(100).openapi({ description: 'Its name.', example: 'Acme Okta' }),
        type: connectionType('Its type.'),
      })
      .openapi({ description: 'The SSO connection it signs in through.' }),
    subject: z.string().max(1024).openapi({
      description: "The IdP's stable identifier of the person (`sub`; a SAML NameID).",
      example: '00u1a2b3c4d5e6f7g8h9',
    }),
    email: z.string().max(320).nullable().openapi({
      description: 'The email the IdP sent at the last sign-in.',
      example: 'ada@acme.com',
    }),
    lastSignInAt: Timestamp.nullable().openapi({
      description: 'The last sign-in through it.',
      example: '2026-12-03T10:00:00.000Z',
    }),
    createdAt: Timestamp.openapi({ description: 'When it was linked.', example: '2026-11-20T09:30:00.000Z' }),
  })
  .openapi('LinkedIdentity');

export const LinkedIdentityListSchema = z
  .object({ items: z.array(LinkedIdentitySchema).max(100).openapi({ description: 'Oldest first.' }) })
  .openapi('LinkedIdentityList');

export const LinkedIdentityIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'Identity id.',
    example: '5d0c1b2a-3f4e-4a5b-8c6d-7e8f9a0b1c2d',
  }),
});

/** The answer of the browser endpoints that end a sign-in (the OIDC callback, the SAML ACS). */
export const SsoRedirectResponse = {
  description: 'To the app’s redirect URI, with `code` and `state`, or `error` and `error_description`.',
  headers: z.object({
    Location: z.url().max(8000).openapi({
      description: 'The app’s redirect URI with the outcome.',
      example: 'https://tickets.acme.com/sso/done?code=ssoc_4f1d0c2b&state=k2Jd93',
    }),
  }),
};

export const EXAMPLE_SSO_DOMAIN_ID = '8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d';

export const SsoDomainSchema = z
  .object({
    id: Uuid.openapi({ description: 'Domain id.', example: EXAMPLE_SSO_DOMAIN_ID }),
    domain: z.string().max(253).openapi({ description: 'The email domain (lower case).', example: 'acme.com' }),
    connectionId: Uuid.openapi({
      description: 'The connection its addresses sign in with.',
      example: EXAMPLE_SSO_CONNECTION_ID,
    }),
    enforce: z.boolean().openapi({
      description: 'Password sign-in is refused for its addresses (owners excepted).',
      example: false,
    }),
    verified: z.boolean().openapi({ description: 'Whether the TXT record was found.', example: true }),
    verifiedAt: Timestamp.nullable().openapi({
      description: 'When it was verified.',
      example: '2026-12-01T10:00:00.000Z',
    }),
    record: z
      .object({
        type: z.literal('TXT').openapi({ description: 'Always TXT.', example: 'TXT' }),
        name: z.string().max(300).openapi({ description: 'The record name.', example: '_eventra-sso.acme.com' }),
        value: z.string().max(200).openapi({
          description: 'The record value.',
          example: 'eventra-sso-verification=Q2x2c3R5bGUtaG1hYy1vZi1vcmctYW5kLWRvbWFpbg',
        }),
      })
      .openapi({ description: 'The DNS record that proves ownership (create it, then verify).' }),
    createdAt: Timestamp.openapi({ description: 'Added.', example: '2026-12-01T09:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-12-01T10:00:00.000Z' }),
  })
  .openapi('SsoDomain');

export const SsoDomainListSchema = z
  .object({ items: z.array(SsoDomainSchema).max(50).openapi({ description: 'By name.' }) })
  .openapi('SsoDomainList');

export const SsoDomainCreateSchema = z
  .object({
    domain: z.string().min(1).max(253).openapi({ description: 'The email domain.', example: 'acme.com' }),
    connectionId: Uuid.openapi({
      description: 'The connection of this organization its addresses sign in with.',
      example: EXAMPLE_SSO_CONNECTION_ID,
    }),
  })
  .strict()
  .openapi('SsoDomainCreate');

export const SsoDomainUpdateSchema = z
  .object({
    enforce: z.boolean().optional().openapi({
      description: 'Refuse password sign-in for its addresses (needs a verified domain; owners excepted).',
      example: true,
    }),
    connectionId: Uuid.optional().openapi({
      description: 'Route it to another connection.',
      example: EXAMPLE_SSO_CONNECTION_ID,
    }),
  })
  .strict()
  .refine((body) => body.enforce !== undefined || body.connectionId !== undefined, 'Give enforce or connectionId.')
  .openapi('SsoDomainUpdate');

export const SsoDomainIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'Domain id.', example: EXAMPLE_SSO_DOMAIN_ID }),
});

export const SsoDiscoverBodySchema = z
  .object({
    email: z
      .string()
      .min(3)
      .max(320)
      .openapi({ description: 'The address the person typed.', example: 'ada@acme.com' }),
  })
  .strict()
  .openapi('SsoDiscoverRequest');

export const SsoDiscoverySchema = z
  .object({
    connectionId: Uuid.openapi({ description: 'Start sign-in with it.', example: EXAMPLE_SSO_CONNECTION_ID }),
    name: z.string().max(100).openapi({ description: 'The connection’s name.', example: 'Acme Okta' }),
    type: connectionType('Its type.'),
    enforced: z
      .boolean()
      .openapi({ description: 'Whether password sign-in is refused for the address.', example: true }),
  })
  .openapi('SsoDiscovery');
