import { encode } from 'cborg';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { expect } from 'vitest';
import type { PasskeyResponse } from '../../src/routes/passkeys/create.ts';
import type { PasskeyListResponse } from '../../src/routes/passkeys/list.ts';
import type { RegistrationOptionsResponse } from '../../src/routes/passkeys/registration-options.ts';
import type { AuthenticationOptionsResponse } from '../../src/routes/passkeys/sign-in-options.ts';
import { post, randomIp } from './auth.ts';
import { bearer, request, type TestTenant } from './harness.ts';

/**
 * A software authenticator: a real ES256 key pair (WebCrypto) that answers WebAuthn ceremonies the way a browser and
 * a platform authenticator would, with `none` attestation and authenticator data built byte by byte (WebAuthn L3
 * §6.1), so the Worker verifies real signatures. Everything an attacker could change (origin, RP ID, challenge,
 * counter, flags, the bytes themselves) is an option, to build the hostile responses of the tests.
 */

/** Flags of the authenticator data (WebAuthn §6.1): user present, user verified, backup eligible/state, attested. */
export const FLAGS = { up: 0x01, uv: 0x04, be: 0x08, bs: 0x10, at: 0x40 } as const;

const encoder = new TextEncoder();

async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function uint32(value: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** A DER-encoded INTEGER of a big-endian unsigned value (leading zeros dropped, a 0x00 added before a high bit). */
function derInteger(value: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  let body = value.slice(start);
  if ((body[0] ?? 0) & 0x80) body = concat(new Uint8Array([0]), body);
  return concat(new Uint8Array([0x02, body.length]), body);
}

/** WebCrypto's ECDSA signature (r || s) as the ASN.1 DER sequence WebAuthn carries. */
function derSignature(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const sequence = concat(derInteger(raw.slice(0, 32)), derInteger(raw.slice(32)));
  return concat(new Uint8Array([0x30, sequence.length]), sequence);
}

export interface CeremonyOptions {
  /** The page's origin in clientDataJSON (default: the authenticator's). */
  origin?: string;
  /** The RP ID hashed into the authenticator data (default: the authenticator's). */
  rpId?: string;
  /** The challenge echoed in clientDataJSON (default: the options' challenge). */
  challenge?: string;
  /** The signature counter (default: the authenticator's next value). */
  counter?: number;
  /** Authenticator-data flags (default: UP | UV, plus BE | BS for a synced passkey). */
  flags?: number;
  /** clientDataJSON `type` (default `webauthn.create` / `webauthn.get`). */
  type?: string;
  /** Registration: a `packed` self-attestation whose signature covers other bytes (instead of `none`). */
  forgedAttestation?: boolean;
}

export interface SoftwareAuthenticator {
  credentialId: string;
  rpId: string;
  origin: string;
  /** The user handle the authenticator stored at registration (a discoverable credential), base64url. */
  userHandle: string | undefined;
  counter: number;
  /** Answers `navigator.credentials.create()` with these options (from the registration options endpoint). */
  register(
    options: { challenge: string; user: { id: string } },
    overrides?: CeremonyOptions,
  ): Promise<RegistrationJSON>;
  /** Answers `navigator.credentials.get()` with these options (from an authentication options endpoint). */
  authenticate(options: { challenge: string }, overrides?: CeremonyOptions): Promise<AuthenticationJSON>;
}

export interface RegistrationJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports: string[] };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment: 'platform';
}

export interface AuthenticationJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment: 'platform';
}

/**
 * A new authenticator for an RP (`rpId`, the organization's host) reached at `origin`, with a fresh key pair and a
 * random 32-byte credential id. `synced` makes it a multi-device (backed-up) passkey.
 */
export async function softwareAuthenticator(
  rpId: string,
  origin: string,
  options: { synced?: boolean; counter?: number } = {},
): Promise<SoftwareAuthenticator> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey('raw', keys.publicKey)) as ArrayBuffer);
  const coseKey = new Uint8Array(
    encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, raw.slice(1, 33)],
        [-3, raw.slice(33, 65)],
      ]),
    ),
  );
  const credential = crypto.getRandomValues(new Uint8Array(32));
  const baseFlags = FLAGS.up | FLAGS.uv | (options.synced ? FLAGS.be | FLAGS.bs : 0);
  const sign = async (data: Uint8Array) =>
    new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, data));
  const clientData = (type: string, challenge: string, pageOrigin: string) =>
    new Uint8Array(encoder.encode(JSON.stringify({ type, challenge, origin: pageOrigin, crossOrigin: false })));

  const authenticator: SoftwareAuthenticator = {
    credentialId: isoBase64URL.fromBuffer(credential),
    rpId,
    origin,
    userHandle: undefined,
    counter: options.counter ?? 0,
    async register(request, overrides = {}) {
      authenticator.userHandle = request.user.id;
      const authData = concat(
        await sha256(encoder.encode(overrides.rpId ?? rpId)),
        new Uint8Array([(overrides.flags ?? baseFlags) | FLAGS.at]),
        uint32(overrides.counter ?? authenticator.counter),
        new Uint8Array(16), // AAGUID: none
        new Uint8Array([0, credential.length]),
        credential,
        coseKey,
      );
      const forged = overrides.forgedAttestation
        ? new Map<string, unknown>([
            ['alg', -7],
            ['sig', derSignature(await sign(crypto.getRandomValues(new Uint8Array(32))))],
          ])
        : undefined;
      const attestationObject = new Uint8Array(
        encode(
          new Map<string, unknown>([
            ['fmt', forged ? 'packed' : 'none'],
            ['attStmt', forged ?? new Map()],
            ['authData', authData],
          ]),
        ),
      );
      return {
        id: authenticator.credentialId,
        rawId: authenticator.credentialId,
        type: 'public-key',
        response: {
          clientDataJSON: isoBase64URL.fromBuffer(
            clientData(
              overrides.type ?? 'webauthn.create',
              overrides.challenge ?? request.challenge,
              overrides.origin ?? origin,
            ),
          ),
          attestationObject: isoBase64URL.fromBuffer(attestationObject),
          transports: ['internal', 'hybrid'],
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
    async authenticate(request, overrides = {}) {
      if (overrides.counter === undefined && authenticator.counter > 0) authenticator.counter += 1;
      const counter = overrides.counter ?? authenticator.counter;
      const authenticatorData = concat(
        await sha256(encoder.encode(overrides.rpId ?? rpId)),
        new Uint8Array([overrides.flags ?? baseFlags]),
        uint32(counter),
      );
      const clientDataJSON = clientData(
        overrides.type ?? 'webauthn.get',
        overrides.challenge ?? request.challenge,
        overrides.origin ?? origin,
      );
      const signed = concat(authenticatorData, await sha256(clientDataJSON));
      const signature = await sign(signed);
      return {
        id: authenticator.credentialId,
        rawId: authenticator.credentialId,
        type: 'public-key',
        response: {
          clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
          authenticatorData: isoBase64URL.fromBuffer(authenticatorData),
          signature: isoBase64URL.fromBuffer(derSignature(signature)),
          ...(authenticator.userHandle === undefined ? {} : { userHandle: authenticator.userHandle }),
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
  return authenticator;
}

/** The authenticator of a test tenant's host (RP ID = the host, origin = the host's http origin in tests). */
export function authenticatorFor(
  tenant: { host: string },
  options: { synced?: boolean; counter?: number } = {},
): Promise<SoftwareAuthenticator> {
  return softwareAuthenticator(tenant.host, `http://${tenant.host}`, options);
}

/** Flips one byte of base64url data (a tampered signature, authenticator data, ...). */
export function tampered(data: string): string {
  const bytes = isoBase64URL.toBuffer(data);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  return isoBase64URL.fromBuffer(bytes);
}

/** Base64url of a string (hand-made client data). */
export function base64urlText(text: string): string {
  return isoBase64URL.fromUTF8String(text);
}

// The passkey endpoints, driven like a browser would.

export const PASSKEYS_PATH = '/api/v1/auth/passkeys';

export function registrationOptions(tenant: TestTenant, token: string, headers: Record<string, string> = {}) {
  return post(tenant.url(`${PASSKEYS_PATH}/registration-options`), {}, bearer(token, headers));
}

export async function registrationOptionsOf(tenant: TestTenant, token: string): Promise<RegistrationOptionsResponse> {
  const response = await registrationOptions(tenant, token);
  expect(response.status).toBe(200);
  return response.json();
}

export function registerPasskey(
  tenant: TestTenant,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return post(tenant.url(PASSKEYS_PATH), body, bearer(token, headers));
}

/** Registers a passkey of `authenticator` for the token's user, through the two endpoints. */
export async function addPasskey(
  tenant: TestTenant,
  token: string,
  authenticator: SoftwareAuthenticator,
  name = 'Laptop',
) {
  const response = await registerPasskey(tenant, token, {
    name,
    response: await authenticator.register(await registrationOptionsOf(tenant, token)),
  });
  expect(response.status).toBe(201);
  return response.json<PasskeyResponse>();
}

export async function listPasskeys(tenant: TestTenant, token: string): Promise<PasskeyListResponse> {
  const response = await request(tenant.url(PASSKEYS_PATH), { headers: bearer(token) });
  expect(response.status).toBe(200);
  return response.json();
}

/** Options of a passwordless sign-in on the tenant's host, from a client address. */
export async function signInOptions(tenant: TestTenant, ip = randomIp(), headers: Record<string, string> = {}) {
  const response = await post(tenant.url(`${PASSKEYS_PATH}/sign-in-options`), {}, headers, ip);
  expect(response.status).toBe(200);
  return response.json<AuthenticationOptionsResponse>();
}
