import { ApiError, type FieldError } from '../errors/api-error.ts';
import type { ErrorCode } from '../errors/codes.ts';
import type { Logger } from './logger.ts';

/**
 * A call to a feature Worker (src/workers/: the PDF renderer, SAML's XML side, WebAuthn, file formats) over its
 * service binding. Those Workers hold rarely used libraries out of the API Worker's bundle (issue #13,
 * docs/PERFORMANCE.md) and answer a refusal as a value, never by throwing; so anything thrown here means the Worker
 * could not be reached or failed (not deployed, crashed, over its limits): logged with the binding's name, and
 * answered 503 service_unavailable with Retry-After. The caller has written nothing yet, so nothing is half done.
 */
export async function callFeatureWorker<T>(
  ctx: { logger: Logger },
  binding: string,
  call: () => Promise<T>,
  detail: string,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    ctx.logger.error(`feature Worker ${binding} failed`, { binding, error: String(error) });
    throw new ApiError('service_unavailable', { detail, headers: { 'retry-after': '5' } });
  }
}

/** An ApiError as plain data: how a feature Worker refuses over RPC, which keeps a thrown error's message only. */
export interface Refusal {
  code: ErrorCode;
  detail?: string | undefined;
  errors?: FieldError[] | undefined;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** In a feature Worker: runs `work`, answering its ApiError as a refusal; anything else is thrown (a fault). */
export async function outcomeOf<T>(work: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { ok: false, refusal: { code: error.code, detail: error.detail, errors: error.errors } };
  }
}

/** In the API Worker: the value of an outcome, or its refusal thrown as the ApiError it was. */
export function valueOf<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { code, detail, errors } = outcome.refusal;
  throw new ApiError(code, {
    ...(detail === undefined ? {} : { detail }),
    ...(errors === undefined ? {} : { errors }),
  });
}
