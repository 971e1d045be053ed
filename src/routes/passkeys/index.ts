import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';
import * as deletePasskey from './delete.ts';
import * as list from './list.ts';
import * as mfaOptions from './mfa-options.ts';
import * as mfaVerify from './mfa-verify.ts';
import * as reauthenticate from './reauthenticate.ts';
import * as reauthenticateOptions from './reauthenticate-options.ts';
import * as registrationOptions from './registration-options.ts';
import * as rename from './rename.ts';
import * as signIn from './sign-in.ts';
import * as signInOptions from './sign-in-options.ts';

/** Passkeys (WebAuthn): their own group; @simplewebauthn/server runs in the WebAuthn Worker (src/workers/webauthn.ts). */
export function registerPasskeyRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  registrationOptions.register(app);
  create.register(app);
  rename.register(app);
  deletePasskey.register(app);
  signInOptions.register(app);
  signIn.register(app);
  mfaOptions.register(app);
  mfaVerify.register(app);
  reauthenticateOptions.register(app);
  reauthenticate.register(app);
}
