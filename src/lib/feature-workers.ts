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
  headers?: Record<string, string> | undefined;
  extensions?: Record<string, unknown> | undefined;
}

/**
 * What a feature Worker's method answers: its value, or why it refused, as plain data. `R` is the refusal's shape:
 * an ApiError's (Refusal) by default, a SamlError's code and message for SAML, a reason for WebAuthn.
 */
export type Outcome<T, R = Refusal> = { ok: true; value: T } | { ok: false; refusal: R };

/** The refusal of an ApiError, undefined for any other error. */
export function apiRefusal(error: unknown): Refusal | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const { code, detail, errors, headers, extensions } = error;
  return { code, detail, errors, headers, extensions };
}

/**
 * In a feature Worker: runs `work`; an error that `refusalOf` recognizes (by default an ApiError) is answered as a
 * refusal, any other is thrown (a fault: the API Worker answers 503).
 */
export async function outcomeOf<T, R = Refusal>(
  work: () => T | Promise<T>,
  refusalOf: (error: unknown) => R | undefined = apiRefusal as (error: unknown) => R | undefined,
): Promise<Outcome<T, R>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal === undefined) throw error;
    return { ok: false, refusal };
  }
}

/** In the API Worker: the value of an outcome, or its refusal thrown as the ApiError it was. */
export function valueOf<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { code, detail, errors, headers, extensions } = outcome.refusal;
  throw new ApiError(code, {
    ...(detail === undefined ? {} : { detail }),
    ...(errors === undefined ? {} : { errors }),
    ...(headers === undefined ? {} : { headers }),
    ...(extensions === undefined ? {} : { extensions }),
  });
}
