import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { addressBucket, limitRequests } from '../../middleware/request-limit.ts';
import { REFRESH_CLIENT_LIMIT } from '../../services/auth/limits.ts';
import * as changePassword from './change-password.ts';
import * as dataExport from './data-export.ts';
import * as erase from './erase.ts';
import * as forgotPassword from './forgot-password.ts';
import * as login from './login.ts';
import * as logout from './logout.ts';
import * as me from './me.ts';
import * as refreshToken from './refresh-token.ts';
import * as register from './register.ts';
import * as resendVerification from './resend-verification.ts';
import * as resetPassword from './reset-password.ts';
import * as sessions from './sessions.ts';
import * as updateMe from './update-me.ts';
import * as verifyEmail from './verify-email.ts';

export function registerAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  register.register(app);
  login.register(app);
  app.use(refreshToken.route.path, limitRequests(REFRESH_CLIENT_LIMIT, addressBucket));
  refreshToken.register(app);
  logout.register(app);
  me.register(app);
  updateMe.register(app);
  dataExport.register(app);
  erase.register(app);
  verifyEmail.register(app);
  resendVerification.register(app);
  forgotPassword.register(app);
  resetPassword.register(app);
  changePassword.register(app);
  sessions.register(app);
}
