import { z } from 'zod';

/** The largest SAMLResponse form field accepted (base64): real responses are a few KiB, 30 KiB with many groups. */
export const SAML_RESPONSE_MAX_CHARS = 256 * 1024;

/** PEM or bare base64 (as metadata carries it) of an X.509 certificate, normalized to bare base64 of the DER. */
const certificate = z
  .string()
  .max(16_384)
  .transform((value) => value.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''))
  .pipe(
    z
      .string()
      .min(200)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'not a base64 certificate'),
  );

/**
 * One organization's SAML 2.0 IdP, as the integrator stores it in `sso_connections.config` (type 'saml'). Parse it
 * with this schema when reading it back (the certificates come out normalized).
 */
export const SamlConnectionConfigSchema = z.object({
  /** The IdP's entityID: the Issuer every accepted assertion must carry. */
  idpEntityId: z.string().min(1).max(1024),
  /** The IdP's SingleSignOnService for the HTTP-Redirect binding. */
  ssoUrl: z.url({ protocol: /^https?$/ }).max(2048),
  /** The IdP's signing certificates: several during a rotation; a signature by any one of them is accepted. */
  signingCertificates: z.array(certificate).min(1).max(4),
  /** Whether responses without InResponseTo (started at the IdP) are accepted. Off unless the organization opts in. */
  allowIdpInitiated: z.boolean().default(false),
  /**
   * Where a sign-in started at the IdP lands (the app's page that takes the one-time code), unless the IdP's
   * RelayState names an allowed one: required with allowIdpInitiated (checked against the organization's origins
   * when the connection is created).
   */
  idpInitiatedRedirectUri: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  /** Whether the IdP vouches for the email it asserts (an IdP of the organization's own directory). */
  emailVerifiedByIdp: z.boolean().default(false),
  /** NameID format requested in the AuthnRequest (none requested when absent). */
  nameIdFormat: z.string().max(256).optional(),
  /** Attribute names to read; the NameID stands in for the email when its format is emailAddress. */
  attributes: z
    .object({
      email: z.string().min(1).max(256).default('email'),
      name: z.string().min(1).max(256).default('name'),
      groups: z.string().min(1).max(256).default('groups'),
    })
    .prefault({}),
});

export type SamlConnectionConfig = z.output<typeof SamlConnectionConfigSchema>;
export type SamlConnectionConfigInput = z.input<typeof SamlConnectionConfigSchema>;

/** The service provider's side of one connection: where the IdP sends users back and what it calls us. */
export interface SamlServiceProvider {
  /** Our entityID, also the Audience every accepted assertion must name. */
  entityId: string;
  /** The Assertion Consumer Service (HTTP-POST): Recipient and Destination must be exactly this. */
  acsUrl: string;
}

/**
 * The SP endpoints of connection `connectionId` at the organization's origin (`https://acme.eventra.app` or a
 * verified custom domain; `http://acme.localhost:8787` locally). The entityID is the metadata URL, so an IdP
 * administrator can paste either.
 */
export function samlServiceProvider(origin: string, connectionId: string): SamlServiceProvider {
  const base = `${origin}/api/v1/sso/saml/${encodeURIComponent(connectionId)}`;
  return { entityId: `${base}/metadata`, acsUrl: `${base}/acs` };
}
