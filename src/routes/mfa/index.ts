import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as enrolmentConfirm from './enrolment-confirm.ts';
import * as enrolmentTotp from './enrolment-totp.ts';
import * as reauthenticate from './reauthenticate.ts';
import * as recoveryCodes from './recovery-codes.ts';
import * as status from './status.ts';
import * as totpConfirm from './totp-confirm.ts';
import * as totpDisable from './totp-disable.ts';
import * as totpEnrol from './totp-enrol.ts';
import * as verify from './verify.ts';

/** Issue #14's second factors (TOTP, recovery codes), the MFA sign-in's second step and step-up. */
export function registerMfaRoutes(app: OpenAPIHono<AppEnv>): void {
  verify.register(app);
  status.register(app);
  totpEnrol.register(app);
  totpConfirm.register(app);
  totpDisable.register(app);
  recoveryCodes.register(app);
  enrolmentTotp.register(app);
  enrolmentConfirm.register(app);
  reauthenticate.register(app);
}
