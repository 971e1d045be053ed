import { WorkerEntrypoint } from 'cloudflare:workers';
import type {
  GenerateAuthenticationOptionsOpts,
  GenerateRegistrationOptionsOpts,
  VerifyRegistrationResponseOpts,
} from '@simplewebauthn/server';
import {
  authenticationOptions,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
  type VerifyAuthenticationInput,
  type WebAuthnApi,
} from '../services/auth/webauthn.ts';

/**
 * The WebAuthn library side of passkeys, a Worker of its own (workers/webauthn/wrangler.toml) that the API Worker
 * calls over the service binding WEBAUTHN (RPC: same location, no network hop, no public route), so
 * @simplewebauthn/server with its CBOR, ASN.1 and X.509 code is not compiled at every cold start of the API Worker
 * (issue #13, docs/PERFORMANCE.md). Pure functions of plain data (src/services/auth/webauthn.ts); no bindings, no I/O.
 */
export default class WebAuthn extends WorkerEntrypoint implements WebAuthnApi {
  registrationOptions(options: GenerateRegistrationOptionsOpts) {
    return registrationOptions(options);
  }

  authenticationOptions(options: GenerateAuthenticationOptionsOpts) {
    return authenticationOptions(options);
  }

  verifyRegistration(options: VerifyRegistrationResponseOpts) {
    return verifyRegistration(options);
  }

  verifyAuthentication(input: VerifyAuthenticationInput) {
    return verifyAuthentication(input);
  }

  /** No HTTP surface: the Worker has no route, and only RPC reaches it. */
  override fetch(): Response {
    return new Response(null, { status: 404 });
  }
}
