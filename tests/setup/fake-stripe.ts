import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { closeServer } from '../../dev/gateways/keep-alive.ts';

/**
 * A local stand-in for the parts of Stripe's API the Worker calls, so tests exercise the real HTTP requests (form
 * bodies, headers, idempotency) without the network. It answers like Stripe does:
 *
 * - `POST /v1/checkout/sessions`: validates the parameters Stripe requires (mode, success_url, line_items with
 *   quantity and price_data, one currency, expires_at 30 minutes to 24 hours ahead, metadata limits) and returns a
 *   session object (`cs_test_...`, `url` on checkout.stripe.com, `payment_intent: null`, `status: open`).
 * - `GET /v1/checkout/sessions/{id}`: a session created here.
 * - `POST /v1/refunds`: needs `payment_intent` (or `charge`); returns `re_...` with `status: succeeded`. A
 *   PaymentIntent id starting with `pi_refused` is refused with 400 (`charge_already_refunded`), for tests of the
 *   failure path; one starting with `pi_unanswered` gets a 500 `api_error` (Stripe's outcome unknown). With
 *   `pi_unanswered_once_` only the first request of each Idempotency-Key gets the 500 (nothing saved for the key), a
 *   retry is answered: refunded, or refused like `pi_refused` for `pi_unanswered_once_refused_`. A PaymentIntent id
 *   containing `_slow_` is answered after 300 ms (two callers in flight at once). `pi_made_unanswered_`: the refund
 *   is made, then a 500 is answered and saved for the key (Stripe replays saved 500s).
 * - `GET /v1/refunds?payment_intent=...&limit=...`: the refunds made here with that API key, newest first.
 * - Every call needs `Authorization: Bearer sk_... | rk_...` (401 otherwise, Stripe's error shape); a key containing
 *   `REJECT` is refused as invalid. POSTs honour `Idempotency-Key` like Stripe: the same key with the same body
 *   replays the first answer (`Idempotent-Replayed: true`), with another body it is a 400 `idempotency_error`.
 * - Billing (the platform's account): `POST /v1/customers` (`cus_...`, with name, email, metadata);
 *   `POST /v1/checkout/sessions` in `subscription` mode needs `customer` (or customer_email), `line_items` with a
 *   recurring `price` (`price_...`) and quantity, and keeps `subscription_data[metadata]` for the subscription;
 *   `POST /v1/billing_portal/sessions` needs an existing `customer` and returns a billing.stripe.com URL;
 *   `GET /v1/subscriptions/{id}` answers a subscription put there by the tests with `PUT /__subscriptions/{id}`
 *   (the JSON subscription object, as Stripe would hold it after a checkout or a portal change).
 * - `GET /__requests[?path=/v1/...]`: test-only inspection of every request received (method, path, lowercased
 *   headers, the form fields as sent, the status and body answered), oldest first.
 */
export interface FakeStripe {
  url: string;
  close(): Promise<void>;
}

export interface RecordedStripeRequest {
  id: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The form fields exactly as sent, Stripe's bracketed keys included: `line_items[0][quantity]`. */
  form: Record<string, string>;
  idempotencyKey: string | null;
  status: number;
  response: unknown;
  receivedAt: string;
}

type Nested = string | Nested[] | { [key: string]: Nested };

interface StripeErrorBody {
  type: string;
  message: string;
  code?: string;
  param?: string;
}

class StripeFailure extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;
  /** Whether Stripe saves this answer for the idempotency key (it had started executing the request). */
  readonly saved: boolean;

  constructor(status: number, body: StripeErrorBody, saved = false) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.saved = saved;
  }
}

function missing(param: string): StripeFailure {
  return new StripeFailure(400, {
    type: 'invalid_request_error',
    code: 'parameter_missing',
    param,
    message: `Missing required param: ${param}.`,
  });
}

function invalid(param: string, message: string, code = 'parameter_invalid'): StripeFailure {
  return new StripeFailure(400, { type: 'invalid_request_error', code, param, message });
}

/** Stripe's bracket notation back into objects and arrays: `a[b][0][c]=x` -> { a: { b: [{ c: 'x' }] } }. */
function nest(form: Record<string, string>): Record<string, Nested> {
  const root: Record<string, Nested> = {};
  for (const [key, value] of Object.entries(form)) {
    const parts = [key.split('[')[0] ?? key, ...[...key.matchAll(/\[([^\]]*)\]/g)].map((match) => match[1] ?? '')];
    let node: Record<string, Nested> | Nested[] = root;
    parts.forEach((part, index) => {
      const last = index === parts.length - 1;
      const container = node as Record<string, Nested>;
      if (last) {
        container[part] = value;
        return;
      }
      const nextIsIndex = /^\d+$/.test(parts[index + 1] ?? '');
      container[part] ??= nextIsIndex ? [] : {};
      node = container[part] as Record<string, Nested> | Nested[];
    });
  }
  return root;
}

function randomId(prefix: string, length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}${[...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('')}`;
}

function asObject(value: Nested | undefined): Record<string, Nested> | undefined {
  return value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

function asList(value: Nested | undefined): Nested[] | undefined {
  if (Array.isArray(value)) return value;
  // `line_items[0]...` nests into an array; anything else is not a list.
  return undefined;
}

function integer(value: Nested, param: string, { min = 0 } = {}): number {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw invalid(
      param,
      `Invalid integer: ${typeof value === 'string' ? value : 'object'}`,
      'parameter_invalid_integer',
    );
  }
  const number = Number(value);
  if (number < min) throw invalid(param, `This value must be greater than or equal to ${min}.`);
  return number;
}

function validMetadata(metadata: Nested | undefined, param: string): Record<string, string> {
  if (metadata === undefined) return {};
  const object = asObject(metadata);
  if (!object) throw invalid(param, 'Invalid object');
  const entries = Object.entries(object);
  if (entries.length > 50) throw invalid(param, 'You can specify up to 50 keys.');
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw invalid(`${param}[${key}]`, 'Invalid string');
    if (key.length > 40) throw invalid(param, 'Metadata keys can be up to 40 characters long.');
    if (value.length > 500) throw invalid(`${param}[${key}]`, 'Metadata values can be up to 500 characters long.');
  }
  return object as Record<string, string>;
}

function livemode(apiKey: string): boolean {
  return /^(sk|rk)_live_/.test(apiKey);
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: RecordedStripeRequest[] = [];
  const sessions = new Map<string, Record<string, unknown>>();
  const idempotency = new Map<string, { bodyHash: string; status: number; response: unknown }>();
  const failedOnce = new Set<string>();
  const madeRefunds: { apiKey: string; refund: Record<string, unknown> }[] = [];
  const customers = new Map<string, Record<string, unknown>>();
  const subscriptions = new Map<string, unknown>();
  let sequence = 0;

  const createSession = (params: Record<string, Nested>, apiKey: string, _scope: string): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    const mode = params.mode;
    if (mode === undefined) throw missing('mode');
    if (mode !== 'payment' && mode !== 'subscription' && mode !== 'setup') {
      throw invalid('mode', `Invalid mode: must be one of payment, setup, or subscription`);
    }
    if (params.success_url === undefined) throw missing('success_url');
    for (const param of ['success_url', 'cancel_url'] as const) {
      const value = params[param];
      if (value === undefined) continue;
      if (typeof value !== 'string' || !/^https?:\/\/[^\s]+$/.test(value)) throw invalid(param, 'Not a valid URL');
    }
    const lineItems = params.line_items === undefined ? undefined : asList(params.line_items);
    if (mode !== 'setup' && (lineItems === undefined || lineItems.length === 0)) throw missing('line_items');
    if (mode === 'subscription') {
      const customer = params.customer;
      if (typeof customer === 'string' && !customers.has(customer)) {
        throw invalid('customer', `No such customer: '${customer}'`, 'resource_missing');
      }
      (lineItems ?? []).forEach((raw, index) => {
        const item = asObject(raw);
        if (typeof item?.price !== 'string' || !/^price_\w+$/.test(item.price)) {
          throw invalid(`line_items[${index}][price]`, 'Subscription mode needs a recurring price (price_...).');
        }
      });
      validMetadata(asObject(params.subscription_data)?.metadata, 'subscription_data[metadata]');
    }
    const currencies = new Set<string>();
    let amountTotal = 0;
    (lineItems ?? []).forEach((raw, index) => {
      const item = asObject(raw);
      const at = `line_items[${index}]`;
      if (!item) throw invalid(at, 'Invalid object');
      if (item.quantity === undefined) throw missing(`${at}[quantity]`);
      const quantity = integer(item.quantity, `${at}[quantity]`, { min: 1 });
      const priceData = asObject(item.price_data);
      if (!priceData && item.price === undefined) throw missing(`${at}[price_data]`);
      if (priceData) {
        const currency = priceData.currency;
        if (currency === undefined) throw missing(`${at}[price_data][currency]`);
        if (typeof currency !== 'string' || !/^[a-z]{3}$/.test(currency)) {
          throw invalid(
            `${at}[price_data][currency]`,
            `Invalid currency: ${typeof currency === 'string' ? currency : 'object'}`,
          );
        }
        currencies.add(currency);
        if (priceData.unit_amount === undefined) throw missing(`${at}[price_data][unit_amount]`);
        const unitAmount = integer(priceData.unit_amount, `${at}[price_data][unit_amount]`);
        const product = asObject(priceData.product_data);
        if (!product && priceData.product === undefined) throw missing(`${at}[price_data][product_data]`);
        if (product && (typeof product.name !== 'string' || product.name === '')) {
          throw missing(`${at}[price_data][product_data][name]`);
        }
        amountTotal += unitAmount * quantity;
      }
    });
    if (currencies.size > 1) throw invalid('line_items', 'All line items must use the same currency.');
    let expiresAt = now + 24 * 60 * 60;
    if (params.expires_at !== undefined) {
      expiresAt = integer(params.expires_at, 'expires_at');
      if (expiresAt < now + 30 * 60) {
        throw invalid(
          'expires_at',
          'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
        );
      }
      if (expiresAt > now + 24 * 60 * 60) {
        throw invalid(
          'expires_at',
          'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
        );
      }
    }
    if (params.customer_email !== undefined) {
      if (typeof params.customer_email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(params.customer_email)) {
        throw invalid('customer_email', 'Invalid email address');
      }
    }
    const metadata = validMetadata(params.metadata, 'metadata');
    const intentData = asObject(params.payment_intent_data);
    validMetadata(intentData?.metadata, 'payment_intent_data[metadata]');
    const live = livemode(apiKey);
    const id = randomId(live ? 'cs_live_' : 'cs_test_', 58);
    const session = {
      id,
      object: 'checkout.session',
      livemode: live,
      mode,
      status: 'open',
      payment_status: 'unpaid',
      payment_intent: null,
      url: `https://checkout.stripe.com/c/pay/${id}`,
      created: now,
      expires_at: expiresAt,
      amount_subtotal: amountTotal,
      amount_total: amountTotal,
      currency: [...currencies][0] ?? null,
      client_reference_id: typeof params.client_reference_id === 'string' ? params.client_reference_id : null,
      customer: typeof params.customer === 'string' ? params.customer : null,
      subscription: null,
      customer_email: typeof params.customer_email === 'string' ? params.customer_email : null,
      success_url: params.success_url,
      cancel_url: params.cancel_url ?? null,
      metadata,
    };
    sessions.set(id, session);
    return session;
  };

  const createRefund = (params: Record<string, Nested>, apiKey: string, scope: string): Record<string, unknown> => {
    const paymentIntent = params.payment_intent;
    if (paymentIntent === undefined && params.charge === undefined) {
      throw new StripeFailure(400, {
        type: 'invalid_request_error',
        message: 'One of the following params should be provided for this request: payment_intent or charge.',
      });
    }
    if (typeof paymentIntent === 'string' && paymentIntent.startsWith('pi_unanswered')) {
      // `pi_unanswered_once_...`: only the first request of each idempotency key fails, before anything is done (no
      // idempotent result is saved, as Stripe does when a request fails before it executes); retries are answered.
      const once = paymentIntent.startsWith('pi_unanswered_once_');
      if (!once || !failedOnce.has(scope)) {
        failedOnce.add(scope);
        throw new StripeFailure(500, {
          type: 'api_error',
          message: 'An error occurred with our connection to Stripe.',
        });
      }
    }
    if (
      typeof paymentIntent === 'string' &&
      (paymentIntent.startsWith('pi_refused') || paymentIntent.startsWith('pi_unanswered_once_refused'))
    ) {
      throw new StripeFailure(400, {
        type: 'invalid_request_error',
        code: 'charge_already_refunded',
        message: `Charge for PaymentIntent ${paymentIntent} has already been refunded.`,
      });
    }
    const amount = params.amount === undefined ? null : integer(params.amount, 'amount', { min: 1 });
    const refund = {
      id: randomId('re_'),
      object: 'refund',
      livemode: livemode(apiKey),
      amount,
      currency: 'eur',
      payment_intent: typeof paymentIntent === 'string' ? paymentIntent : null,
      charge: typeof params.charge === 'string' ? params.charge : null,
      reason: typeof params.reason === 'string' ? params.reason : null,
      metadata: validMetadata(params.metadata, 'metadata'),
      status: 'succeeded',
      created: Math.floor(Date.now() / 1000),
    };
    madeRefunds.push({ apiKey, refund });
    if (typeof paymentIntent === 'string' && paymentIntent.startsWith('pi_made_unanswered')) {
      // The refund was made, then the request failed: Stripe saves that 500 for the key and replays it.
      throw new StripeFailure(500, { type: 'api_error', message: 'An unknown error occurred.' }, true);
    }
    return refund;
  };

  const createCustomer = (params: Record<string, Nested>, apiKey: string): Record<string, unknown> => {
    const customer = {
      id: randomId('cus_', 14),
      object: 'customer',
      livemode: livemode(apiKey),
      name: typeof params.name === 'string' ? params.name : null,
      email: typeof params.email === 'string' ? params.email : null,
      metadata: validMetadata(params.metadata, 'metadata'),
      created: Math.floor(Date.now() / 1000),
    };
    customers.set(customer.id, customer);
    return customer;
  };

  const createPortalSession = (params: Record<string, Nested>, apiKey: string): Record<string, unknown> => {
    if (params.customer === undefined) throw missing('customer');
    if (typeof params.customer !== 'string' || !customers.has(params.customer)) {
      throw invalid('customer', 'No such customer.', 'resource_missing');
    }
    if (
      params.return_url !== undefined &&
      (typeof params.return_url !== 'string' || !/^https?:\/\//.test(params.return_url))
    ) {
      throw invalid('return_url', 'Not a valid URL');
    }
    const id = randomId('bps_', 24);
    return {
      id,
      object: 'billing_portal.session',
      livemode: livemode(apiKey),
      customer: params.customer,
      return_url: params.return_url ?? null,
      url: `https://billing.stripe.com/p/session/${livemode(apiKey) ? 'live' : 'test'}_${id.slice(4)}`,
      created: Math.floor(Date.now() / 1000),
    };
  };

  const handle = (
    method: string,
    path: string,
    headers: http.IncomingHttpHeaders,
    body: string,
    query: URLSearchParams,
  ): { status: number; body: unknown; headers?: Record<string, string> } => {
    const authorization = headers.authorization ?? '';
    const apiKey = /^Bearer (\S+)$/.exec(authorization)?.[1];
    if (apiKey === undefined) {
      throw new StripeFailure(401, {
        type: 'invalid_request_error',
        message:
          'You did not provide an API key. You need to provide your API key in the Authorization header, using ' +
          "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      });
    }
    if (!/^(sk|rk)_(test|live)_\w+$/.test(apiKey) || apiKey.includes('REJECT')) {
      throw new StripeFailure(401, {
        type: 'invalid_request_error',
        message: `Invalid API Key provided: ${apiKey.slice(0, 8)}****${apiKey.slice(-4)}`,
      });
    }
    if (method === 'GET' && path === '/v1/refunds') {
      const paymentIntent = query.get('payment_intent');
      const data = madeRefunds
        .filter(
          (made) => made.apiKey === apiKey && (paymentIntent === null || made.refund.payment_intent === paymentIntent),
        )
        .map((made) => made.refund)
        .reverse()
        .slice(0, Number(query.get('limit') ?? '10'));
      return { status: 200, body: { object: 'list', url: '/v1/refunds', has_more: false, data } };
    }
    const getSubscription = /^\/v1\/subscriptions\/([A-Za-z0-9_]+)$/.exec(path);
    if (method === 'GET' && getSubscription) {
      const subscription = subscriptions.get(getSubscription[1] ?? '');
      if (subscription === undefined) {
        throw new StripeFailure(404, {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'id',
          message: `No such subscription: '${getSubscription[1] ?? ''}'`,
        });
      }
      return { status: 200, body: subscription };
    }
    const getSession = /^\/v1\/checkout\/sessions\/([A-Za-z0-9_]+)$/.exec(path);
    if (method === 'GET' && getSession) {
      const session = sessions.get(getSession[1] ?? '');
      if (!session) {
        throw new StripeFailure(404, {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'session',
          message: `No such checkout.session: '${getSession[1] ?? ''}'`,
        });
      }
      return { status: 200, body: session };
    }
    const create =
      method === 'POST' && path === '/v1/checkout/sessions'
        ? createSession
        : method === 'POST' && path === '/v1/refunds'
          ? createRefund
          : method === 'POST' && path === '/v1/customers'
            ? createCustomer
            : method === 'POST' && path === '/v1/billing_portal/sessions'
              ? createPortalSession
              : null;
    if (create === null) {
      throw new StripeFailure(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${method}: ${path}).`,
      });
    }
    const contentType = headers['content-type'] ?? '';
    if (body !== '' && !contentType.startsWith('application/x-www-form-urlencoded')) {
      throw new StripeFailure(400, {
        type: 'invalid_request_error',
        message: 'Stripe expects form-encoded request bodies (application/x-www-form-urlencoded).',
      });
    }
    const params = nest(Object.fromEntries(new URLSearchParams(body)));
    const key = headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' ? key : undefined;
    const bodyHash = createHash('sha256').update(`${path}\n${body}`).digest('hex');
    const scope = `${apiKey}\n${idempotencyKey ?? ''}`;
    if (idempotencyKey !== undefined) {
      const previous = idempotency.get(scope);
      if (previous) {
        if (previous.bodyHash !== bodyHash) {
          throw new StripeFailure(400, {
            type: 'idempotency_error',
            message:
              'Keys for idempotent requests can only be used with the same parameters they were first used with. ' +
              `Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
          });
        }
        return {
          status: previous.status,
          body: previous.response,
          headers: { 'idempotent-replayed': 'true', 'idempotency-key': idempotencyKey },
        };
      }
    }
    let response: Record<string, unknown>;
    try {
      response = create(params, apiKey, scope);
    } catch (error) {
      if (error instanceof StripeFailure && error.saved && idempotencyKey !== undefined) {
        idempotency.set(scope, { bodyHash, status: error.status, response: { error: error.body } });
      }
      throw error;
    }
    if (idempotencyKey !== undefined) idempotency.set(scope, { bodyHash, status: 200, response });
    return {
      status: 200,
      body: response,
      ...(idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': idempotencyKey } }),
    };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake-stripe');
      const method = req.method ?? 'GET';
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, {
          'content-type': 'application/json',
          'request-id': randomId('req_', 14),
          ...headers,
        });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/__requests' && method === 'GET') {
        const only = url.searchParams.get('path');
        send(
          200,
          requests.filter((request) => only === null || request.path === only),
        );
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const seed = /^\/__subscriptions\/(sub_\w+)$/.exec(url.pathname);
      if (seed && method === 'PUT') {
        subscriptions.set(seed[1] ?? '', JSON.parse(body) as unknown);
        send(200, { ok: true });
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).flatMap(([name, value]) =>
          value === undefined ? [] : [[name, Array.isArray(value) ? value.join(', ') : value]],
        ),
      );
      let outcome: { status: number; body: unknown; headers?: Record<string, string> };
      try {
        outcome = handle(method, url.pathname, req.headers, body, url.searchParams);
      } catch (error) {
        if (!(error instanceof StripeFailure)) throw error;
        outcome = { status: error.status, body: { error: error.body } };
      }
      sequence += 1;
      requests.push({
        id: sequence,
        method,
        path: url.pathname,
        headers,
        form: Object.fromEntries(new URLSearchParams(body)),
        idempotencyKey: headers['idempotency-key'] ?? null,
        status: outcome.status,
        response: outcome.body,
        receivedAt: new Date().toISOString(),
      });
      // `..._slow_...` PaymentIntents are answered after 300 ms, so tests can have two callers in flight at once.
      const slow = new URLSearchParams(body).get('payment_intent')?.includes('_slow_') === true;
      setTimeout(() => send(outcome.status, outcome.body, outcome.headers), slow ? 300 : 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('fake Stripe did not start');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => closeServer(server),
  };
}
