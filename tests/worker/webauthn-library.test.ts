import { describe, expect, it } from 'vitest';
import {
  authenticationOptions,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
} from '../../src/services/auth/webauthn.ts';
import { softwareAuthenticator, tampered } from '../support/webauthn.ts';

// The WebAuthn Worker's library side (src/services/auth/webauthn.ts), called directly: what crosses the WEBAUTHN
// binding must be plain data (structured-clonable, binary as base64url), and a refusal a value, never a throw. The
// passkey tests drive the same code through the binding, from the API.

const rpID = 'acme.eventra.test';
const origin = 'https://acme.eventra.test';
const expected = { expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true } as const;

async function registered() {
  const options = await registrationOptions({
    rpName: 'Acme',
    rpID,
    userID: new Uint8Array(new TextEncoder().encode('3f1c1b0e-5d2a-4c7e-9f43-7d6a2c1e8b90')),
    userName: 'ada@example.com',
    attestationType: 'none',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  const authenticator = await softwareAuthenticator(rpID, origin);
  const response = await authenticator.register(options);
  return { options, authenticator, response };
}

describe('the WebAuthn library side', () => {
  it('verifies a registration into plain data, and answers refusals as values', async () => {
    const { options, authenticator, response } = await registered();
    expect(options.rp).toEqual({ name: 'Acme', id: rpID });
    const verdict = await verifyRegistration({ ...expected, response, expectedChallenge: options.challenge });
    expect(verdict).toEqual({
      ok: true,
      value: {
        credentialId: authenticator.credentialId,
        publicKey: expect.stringMatching(/^[A-Za-z0-9_-]+$/) as unknown,
        counter: 0,
        deviceType: 'singleDevice',
        backedUp: false,
        aaguid: '00000000-0000-0000-0000-000000000000',
      },
    });
    expect(structuredClone(verdict)).toEqual(verdict);

    // Refused by a throw inside the library (another challenge), and by `verified: false` (a forged self-attestation).
    const otherChallenge = await verifyRegistration({ ...expected, response, expectedChallenge: 'b3RoZXI' });
    expect(otherChallenge).toMatchObject({ ok: false, refusal: expect.stringContaining('challenge') as unknown });
    const forged = await authenticator.register(options, { forgedAttestation: true });
    expect(await verifyRegistration({ ...expected, response: forged, expectedChallenge: options.challenge })).toEqual({
      ok: false,
      refusal: 'The attestation signature is invalid.',
    });
  });

  it('verifies an assertion against the stored public key, and refuses a tampered one', async () => {
    const { options, authenticator, response } = await registered();
    const stored = await verifyRegistration({ ...expected, response, expectedChallenge: options.challenge });
    if (!stored.ok) throw new Error(stored.refusal);
    const request = await authenticationOptions({ rpID, userVerification: 'required', allowCredentials: [] });
    expect(request.rpId).toBe(rpID);
    const assertion = await authenticator.authenticate(request);
    const credential = { id: stored.value.credentialId, publicKey: stored.value.publicKey, counter: 0 };
    const input = { ...expected, expectedChallenge: request.challenge, credential };
    expect(await verifyAuthentication({ ...input, response: assertion })).toEqual({
      ok: true,
      value: { newCounter: authenticator.counter, backedUp: false },
    });

    // A signature over other bytes: `verified: false`; another challenge: thrown inside the library.
    const forged = {
      ...assertion,
      response: { ...assertion.response, signature: tampered(assertion.response.signature) },
    };
    expect(await verifyAuthentication({ ...input, response: forged })).toMatchObject({ ok: false });
    const replayed = await verifyAuthentication({ ...input, response: assertion, expectedChallenge: 'b3RoZXI' });
    expect(replayed).toMatchObject({ ok: false, refusal: expect.stringContaining('challenge') as unknown });
  });
});
