/**
 * The Eventra API client: openapi-fetch over the types openapi-typescript generates from the OpenAPI document
 * (schema.d.ts), plus what every caller would otherwise write by hand: the organization's host, bearer tokens
 * refreshed on a 401 (once for all concurrent requests), an Idempotency-Key on the operations that accept one (the
 * same key on every retry), problem+json answers thrown as `EventraProblemError`, and cursor pagination.
 */
import createClient, {
  type Client,
  type ClientPathsWithMethod,
  type FetchResponse,
  type MaybeOptionalInit,
} from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';
import { AUTHENTICATED_OPERATIONS, IDEMPOTENT_OPERATIONS } from './operations.ts';

export type { components, operations, paths } from './schema.d.ts';
export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];
/** Every error `code` the API can answer (the document's Problem.code enum, from src/errors/codes.ts). */
export type ErrorCode = Problem['code'];

/** A session's tokens. Platform administrators get no refresh token: their session is the access token alone. */
export interface Tokens {
  accessToken: string;
  refreshToken?: string | undefined;
}

export type FetchFunction = (request: Request) => Promise<Response>;

export interface EventraOptions {
  /**
   * The API's origin: the platform host (`https://eventra.app`, locally `http://localhost:8787`), an organization's
   * host (`https://acme.eventra.app`) or its custom domain (`https://tickets.acme.com`).
   */
  baseUrl: string;
  /** An organization's slug: requests then go to `{slug}.{host of baseUrl}` (the tenant host). */
  organization?: string | undefined;
  /** Tokens of an earlier session (e.g. persisted by `onTokens`); `login()` sets them too. */
  tokens?: Tokens | null | undefined;
  /** Called with every new pair (sign-in, each refresh: refresh tokens are single use) and with null when the session ends. */
  onTokens?: ((tokens: Tokens | null) => void | Promise<void>) | undefined;
  /** The fetch to use (default: globalThis.fetch). In Node, for `*.localhost`, pass `localFetch` from `@eventra/sdk/node`. */
  fetch?: FetchFunction | undefined;
  /** Headers sent with every request. */
  headers?: Record<string, string> | undefined;
  /**
   * Retries of requests that are safe to repeat (GET, HEAD, PUT, DELETE, and POSTs with an Idempotency-Key) after a
   * network error, a 503, a 429, or a 409 with Retry-After (the same key still in flight). Default 2.
   */
  retries?: number | undefined;
  /** The longest Retry-After (seconds) worth waiting for before a retry; longer ones are thrown. Default 5. */
  maxRetryAfter?: number | undefined;
}

/** An RFC 9457 problem answered by the API (any status >= 400), with its stable `code`. */
export class EventraProblemError extends Error {
  override readonly name = 'EventraProblemError';
  readonly status: number;
  /** The stable, machine-readable code; undefined only when the answer was not a problem (e.g. a proxy's page). */
  readonly code: ErrorCode | undefined;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** Field errors of a 400: JSON pointers into the request (`/body/password`) with a message. */
  readonly errors: NonNullable<Problem['errors']>;
  /** The server's id of the request (X-Request-Id): quote it when asking for support. */
  readonly requestId: string | undefined;
  /** Seconds from the Retry-After header (429, 503, an idempotency key in flight). */
  readonly retryAfter: number | undefined;
  /** The whole problem, extension members included (e.g. `refundable`, `ticketTypeId`). */
  readonly problem: Record<string, unknown>;

  constructor(status: number, problem: Record<string, unknown>, headers: Headers) {
    const text = (key: string): string | undefined => (typeof problem[key] === 'string' ? problem[key] : undefined);
    const title = text('title') ?? `HTTP ${status}`;
    const detail = text('detail');
    super(detail === undefined ? title : `${title}: ${detail}`);
    this.status = status;
    this.code = text('code') as ErrorCode | undefined;
    this.type = text('type') ?? 'about:blank';
    this.title = title;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? (problem.errors as EventraProblemError['errors']) : [];
    this.requestId = text('requestId') ?? headers.get('x-request-id') ?? undefined;
    this.retryAfter = retryAfterSeconds(headers);
    this.problem = problem;
  }

  /** Reads a failed response (its body is consumed). */
  static async from(response: Response): Promise<EventraProblemError> {
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const problem =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : { title: response.statusText || `HTTP ${response.status}`, detail: text.slice(0, 200) || undefined };
    return new EventraProblemError(response.status, problem, response.headers);
  }
}

function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
}

// Types of the data methods: a path of the document and its init (params, body, headers) in, the 2xx body out.
type Method = 'get' | 'put' | 'post' | 'delete';
type Api = Client<paths>;
type PathOf<M extends Method> = ClientPathsWithMethod<Api, M>;
type InitOf<P extends keyof paths, M extends Method> = MaybeOptionalInit<paths[P], M>;
type Args<Init> = undefined extends Init ? [init?: Init] : [init: Init];
type OrUndefined<T> = [T] extends [never] ? undefined : T;
/** The success body of an operation (undefined for a 204). */
export type ResponseData<P extends keyof paths, M extends Method> = OrUndefined<
  NonNullable<FetchResponse<NonNullable<paths[P][M]>, object, `${string}/${string}`>['data']>
>;
type DataMethod<M extends Method> = <P extends PathOf<M>>(
  path: P,
  ...init: Args<InitOf<P, M>>
) => Promise<ResponseData<P, M>>;

type LoginBody = NonNullable<paths['/api/v1/auth/login']['post']['requestBody']>['content']['application/json'];

/** GET paths whose answer is a cursor page `{ data: T[], nextCursor }`. */
export type ListPath = {
  [P in PathOf<'get'>]: ResponseData<P, 'get'> extends { data: unknown[]; nextCursor: string | null } ? P : never;
}[PathOf<'get'>];
/** One item of a list path's pages. */
export type ListItem<P extends ListPath> = ResponseData<P, 'get'> extends { data: (infer T)[] } ? T : never;

export interface Eventra {
  /** The origin requests go to (the organization's host when `organization` was given). */
  readonly baseUrl: string;
  /** The openapi-fetch client (`{ data, response }`, e.g. for response headers); failures throw here too. */
  readonly api: Api;
  readonly get: DataMethod<'get'>;
  readonly post: DataMethod<'post'>;
  readonly put: DataMethod<'put'>;
  readonly delete: DataMethod<'delete'>;
  /** Every item of a cursor-paginated list, page by page (`limit` in the query sets the page size). */
  paginate<P extends ListPath>(path: P, ...init: Args<InitOf<P, 'get'>>): AsyncGenerator<ListItem<P>, void, undefined>;
  /** Signs in on this host and keeps the session's tokens. */
  login(credentials: LoginBody): Promise<ResponseData<'/api/v1/auth/login', 'post'>>;
  /** Exchanges the refresh token for a new pair now; concurrent calls (and 401s) share one exchange. */
  refresh(): Promise<Tokens>;
  /** Ends the session on the server (all of the user's sessions here with `all`) and forgets the tokens (always). */
  logout(options?: { all?: boolean }): Promise<void>;
  /** The current tokens, or null when signed out. */
  readonly tokens: Tokens | null;
  setTokens(tokens: Tokens | null): Promise<void>;
  /**
   * A client for an organization's host (`{slug}.` + the host of `options.baseUrl`), sharing fetch, headers and retry
   * settings, with its own session: tokens are valid only on the host that issued them.
   */
  organization(slug: string, options?: Pick<EventraOptions, 'tokens' | 'onTokens'>): Eventra;
}

const REPEATABLE_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** The origin of an organization's host: `{slug}.{host}` on the scheme and port of the platform's origin. */
export function organizationUrl(baseUrl: string, slug: string): string {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(slug)) throw new TypeError(`Not an organization slug: ${slug}`);
  const url = new URL(baseUrl);
  url.hostname = `${slug}.${url.hostname}`;
  return url.origin;
}

export function createEventra(options: EventraOptions): Eventra {
  const baseUrl =
    options.organization === undefined
      ? new URL(options.baseUrl).origin
      : organizationUrl(options.baseUrl, options.organization);
  const send: FetchFunction = options.fetch ?? ((request) => globalThis.fetch(request));
  const retries = options.retries ?? 2;
  const maxRetryAfter = options.maxRetryAfter ?? 5;
  let tokens: Tokens | null = options.tokens ?? null;
  let refreshing: Promise<Tokens> | undefined;
  // Requests of operations that take the bearer token (marked by the middleware, which knows the operation).
  const authenticated = new WeakSet<Request>();

  async function setTokens(next: Tokens | null): Promise<void> {
    tokens = next;
    await options.onTokens?.(next);
  }

  /** Sends a request: the bearer token, retries, one refresh on a 401; any failure becomes an EventraProblemError. */
  async function transport(request: Request): Promise<Response> {
    const body = request.body === null ? undefined : await request.arrayBuffer();
    const withToken = authenticated.has(request) && !request.headers.has('authorization');
    const repeatable = REPEATABLE_METHODS.has(request.method) || request.headers.has('idempotency-key');
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const token = withToken ? tokens?.accessToken : undefined;
      const headers = new Headers(request.headers);
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      const init: RequestInit = { method: request.method, headers, signal: request.signal, redirect: request.redirect };
      if (body !== undefined) init.body = body;
      let response: Response;
      try {
        response = await send(new Request(request.url, init));
      } catch (error) {
        if (!repeatable || attempt >= retries || request.signal.aborted) throw error;
        await sleep(250 * 2 ** attempt);
        continue;
      }
      if (response.ok || response.status === 304) return response;

      if (response.status === 401 && token !== undefined && !refreshed && tokens?.refreshToken !== undefined) {
        refreshed = true;
        await response.body?.cancel();
        // Another request may have refreshed meanwhile: then the new token is already there.
        if (tokens.accessToken === token) await refresh();
        attempt--;
        continue;
      }
      const wait = retryAfterSeconds(response.headers);
      const busy =
        response.status === 503 || response.status === 429 || (response.status === 409 && wait !== undefined);
      if (busy && repeatable && attempt < retries && (wait ?? 1) <= maxRetryAfter) {
        await response.body?.cancel();
        await sleep((wait ?? 2 ** attempt) * 1000);
        continue;
      }
      throw await EventraProblemError.from(response);
    }
  }

  const api = createClient<paths>({ baseUrl, fetch: transport, headers: options.headers });
  api.use({
    onRequest({ request, schemaPath }) {
      const operation = `${request.method} ${schemaPath}`;
      // A key made here is part of the request, so every retry of this call (above) carries the same key.
      if (IDEMPOTENT_OPERATIONS.has(operation) && !request.headers.has('idempotency-key')) {
        request.headers.set('idempotency-key', crypto.randomUUID());
      }
      if (AUTHENTICATED_OPERATIONS.has(operation)) authenticated.add(request);
      return request;
    },
  });

  function method<M extends Method>(name: M): DataMethod<M> {
    const upper = name.toUpperCase() as Uppercase<M>;
    return (async (path: string, init?: object) => {
      const call = api[upper] as (path: string, init?: object) => Promise<{ data?: unknown }>;
      return (await call(path, init)).data;
    }) as DataMethod<M>;
  }
  const get = method('get');
  const post = method('post');

  function refresh(): Promise<Tokens> {
    refreshing ??= (async () => {
      const refreshToken = tokens?.refreshToken;
      if (refreshToken === undefined) throw new Error('No refresh token: sign in first.');
      try {
        const session = await post('/api/v1/auth/refresh-token', { body: { refreshToken } });
        const next = { accessToken: session.accessToken, refreshToken: session.refreshToken };
        await setTokens(next);
        return next;
      } catch (error) {
        // A spent, expired or revoked refresh token: the session is over, sign in again.
        if (error instanceof EventraProblemError && error.status === 401) await setTokens(null);
        throw error;
      }
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function* paginate(path: string, init?: { params?: { query?: Record<string, unknown> } }) {
    const getPage = get as (path: string, init: object) => Promise<{ data: unknown[]; nextCursor: string | null }>;
    let cursor: string | undefined;
    do {
      const page = await getPage(path, {
        ...init,
        params: { ...init?.params, query: { ...init?.params?.query, cursor } },
      });
      yield* page.data;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  return {
    baseUrl,
    api,
    get,
    post,
    put: method('put'),
    delete: method('delete'),
    paginate: paginate as Eventra['paginate'],
    async login(credentials) {
      const answer = await post('/api/v1/auth/login', { body: credentials });
      // An account with a second factor answers an MFA challenge (`mfaRequired`) instead of tokens.
      if (!('mfaRequired' in answer)) {
        await setTokens({ accessToken: answer.accessToken, refreshToken: answer.refreshToken });
      }
      return answer;
    },
    refresh,
    async logout(logoutOptions = {}) {
      // `all=true` whether the document types the flag as a boolean or as 'true' | 'false'.
      const query = (logoutOptions.all === true ? { all: 'true' } : {}) as never;
      try {
        await post('/api/v1/auth/logout', { params: { query } });
      } finally {
        // Forgotten even when the server refuses (the session had ended already) or cannot be reached.
        await setTokens(null);
      }
    },
    get tokens() {
      return tokens;
    },
    setTokens,
    organization(slug, session = {}) {
      return createEventra({ ...options, tokens: session.tokens, onTokens: session.onTokens, organization: slug });
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
