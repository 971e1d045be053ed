import { ApiError } from '../../errors/api-error.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * The common-password list (src/services/auth/data/common-passwords.json, made by dev/generate-common-passwords.ts),
 * shipped as a static asset instead of inside the script: ~200 KiB raw, ~68 KiB of the gzip bundle that every isolate
 * would otherwise load and parse at start-up for the few requests that set a password. dev/docs-assets.ts copies it to
 * build/assets at this path; wrangler.toml's `run_worker_first` keeps the path for the Worker, so it is read only
 * through the ASSETS binding and never served to clients.
 */
export const COMMON_PASSWORDS_ASSET = '/_internal/common-passwords.json';

/** The list as zxcvbn ranks it (its order) and as a set for the exact check. */
export interface CommonPasswords {
  readonly list: readonly string[];
  readonly set: ReadonlySet<string>;
}

/**
 * What the policy uses of a ServiceContext: the ASSETS binding and the logger. Structural, so the Node-side scripts
 * that import the password module (drizzle/seed.ts, bench/) type-check without the Workers types.
 */
interface Assets {
  fetch(url: string): Promise<Response>;
}
export interface PolicyRuntime {
  bindings: { ASSETS?: Assets | undefined };
  logger: Pick<Logger, 'error'>;
}

async function read(assets: Assets): Promise<CommonPasswords> {
  const response = await assets.fetch(`https://assets.invalid${COMMON_PASSWORDS_ASSET}`);
  if (!response.ok) throw new Error(`${COMMON_PASSWORDS_ASSET} answered ${response.status}`);
  const list: unknown = await response.json();
  // An empty or foreign file must not read as "nothing is common".
  if (!Array.isArray(list) || list.length === 0 || !list.every((entry) => typeof entry === 'string'))
    throw new Error(`${COMMON_PASSWORDS_ASSET} is not a non-empty list of strings`);
  return { list, set: new Set(list) };
}

// Read once per isolate (per ASSETS binding: workerd passes the same one to every request), on the first password
// check; a failed read is not kept, so the next check tries again.
const loaded = new WeakMap<Assets, Promise<CommonPasswords>>();

async function load(assets: Assets | undefined): Promise<CommonPasswords> {
  if (!assets) throw new Error('no ASSETS binding');
  let list = loaded.get(assets);
  if (!list) {
    list = read(assets);
    loaded.set(assets, list);
  }
  try {
    return await list;
  } catch (error) {
    loaded.delete(assets);
    throw error;
  }
}

/** The list, or a 503 (never "password accepted") while it cannot be read: the policy fails closed. */
export async function commonPasswords(ctx: PolicyRuntime): Promise<CommonPasswords> {
  try {
    return await load(ctx.bindings.ASSETS);
  } catch (error) {
    ctx.logger.error('common-password list unreadable (run `node dev/docs-assets.ts` before deploying)', {
      error: String(error),
    });
    throw new ApiError('service_unavailable', {
      detail: 'Passwords cannot be checked right now.',
      headers: { 'retry-after': '5' },
    });
  }
}
