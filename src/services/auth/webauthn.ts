import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransport,
  type CredentialDeviceType,
  type GenerateAuthenticationOptionsOpts,
  type GenerateRegistrationOptionsOpts,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type VerifyAuthenticationResponseOpts,
  type VerifyRegistrationResponseOpts,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { outcomeOf, type Outcome } from '../../lib/feature-workers.ts';

/**
 * The WebAuthn ceremonies' library side (@simplewebauthn/server, with its CBOR, ASN.1 and X.509 dependencies: about
 * 330 KiB of minified code), run in the WebAuthn Worker (src/workers/webauthn.ts) that the API Worker calls over its
 * WEBAUTHN service binding. Every value in and out is plain data that RPC carries (binary as base64url); the
 * challenge store, the credentials and every decision stay with the API Worker (src/services/auth/passkeys.ts).
 */

/**
 * A verification's outcome: the library refuses by throwing (or answering `verified: false`), and RPC would keep only
 * a thrown error's message, so a refusal is its reason, as a value.
 */
export type WebAuthnVerdict<T> = Outcome<T, string>;

/** Every error the library throws while verifying is a refusal: its message is the reason. */
const reasonOf = (error: unknown): string => (error as Error).message;

/** A verified registration: what the API Worker stores. */
export interface RegisteredCredential {
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  deviceType: CredentialDeviceType;
  backedUp: boolean;
  aaguid: string;
}

/** A verified assertion: the counter the authenticator reported and its backup state. */
export interface AssertedCredential {
  newCounter: number;
  backedUp: boolean;
}

/**
 * The WebAuthn Worker's methods (src/workers/webauthn.ts implements them), as the API Worker calls them over RPC:
 * plain data in and out, which RPC clones. Declared here because the generated stub types of a service binding do
 * not carry a method's union result through (they widen it to unknown or to one branch).
 */
export interface WebAuthnApi {
  registrationOptions(options: GenerateRegistrationOptionsOpts): Promise<PublicKeyCredentialCreationOptionsJSON>;
  authenticationOptions(options: GenerateAuthenticationOptionsOpts): Promise<PublicKeyCredentialRequestOptionsJSON>;
  verifyRegistration(options: VerifyRegistrationResponseOpts): Promise<WebAuthnVerdict<RegisteredCredential>>;
  verifyAuthentication(input: VerifyAuthenticationInput): Promise<WebAuthnVerdict<AssertedCredential>>;
}

export function registrationOptions(
  options: GenerateRegistrationOptionsOpts,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions(options);
}

export function authenticationOptions(
  options: GenerateAuthenticationOptionsOpts,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions(options);
}

export function verifyRegistration(
  options: VerifyRegistrationResponseOpts,
): Promise<WebAuthnVerdict<RegisteredCredential>> {
  return outcomeOf(async () => {
    const verification = await verifyRegistrationResponse(options);
    // A self-attestation whose signature does not verify answers `verified: false` rather than throwing.
    if (!verification.verified) throw new Error('The attestation signature is invalid.');
    const info = verification.registrationInfo;
    return {
      credentialId: info.credential.id,
      publicKey: isoBase64URL.fromBuffer(info.credential.publicKey),
      counter: info.credential.counter,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    };
  }, reasonOf);
}

export interface VerifyAuthenticationInput extends Omit<VerifyAuthenticationResponseOpts, 'credential'> {
  credential: { id: string; publicKey: string; counter: number; transports?: AuthenticatorTransport[] };
}

export function verifyAuthentication({
  credential,
  ...options
}: VerifyAuthenticationInput): Promise<WebAuthnVerdict<AssertedCredential>> {
  return outcomeOf(async () => {
    const verification = await verifyAuthenticationResponse({
      ...options,
      credential: { ...credential, publicKey: isoBase64URL.toBuffer(credential.publicKey) },
    });
    if (!verification.verified) throw new Error('The assertion signature is invalid.');
    const { newCounter, credentialBackedUp } = verification.authenticationInfo;
    return { newCounter, backedUp: credentialBackedUp };
  }, reasonOf);
}
