import { ApiError } from '../errors/api-error.ts';
import type { Logger } from './logger.ts';

/**
 * A call to a feature Worker (src/workers/: the PDF renderer, SAML's XML side, WebAuthn) over its service binding.
 * Those Workers hold rarely used libraries out of the API Worker's bundle (issue #13, docs/PERFORMANCE.md) and answer
 * a refusal as a value, never by throwing; so anything thrown here means the Worker could not be reached or failed
 * (not deployed, crashed, over its limits): logged with the binding's name, and answered 503 service_unavailable
 * with Retry-After. The caller has written nothing yet, so nothing is half done.
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
