import { consumeLoginRecord, LOGIN_RECORD_MESSAGE } from '../services/auth/login-record.ts';
import type { MessageHandler } from './consumer.ts';

/**
 * The audit queue's message types (AUDIT_QUEUE), registered as `handlers.audit` in src/queues/consumer.ts:
 * - `auth.login_record`: a successful sign-in's `auth.login` audit row and the membership's last-login time, written
 *   once per sign-in however often the message is delivered (see src/services/auth/login-record.ts).
 */
export const auditHandlers: ReadonlyMap<string, MessageHandler> = new Map([[LOGIN_RECORD_MESSAGE, consumeLoginRecord]]);
