import type { Redis } from '@upstash/redis/cloudflare';
import type { Bindings } from '../../../env.ts';
import { callFeatureWorker, type Outcome } from '../../../lib/feature-workers.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { SamlSignInStart } from './authn-request.ts';
import type { SamlConnectionConfig, SamlServiceProvider } from './config.ts';
import { SamlError, type SamlRefusal } from './errors.ts';
import { SAML_REQUEST_TTL_SECONDS, samlAssertionKey, samlRequestKey } from './keys.ts';
import type { SamlIdentity } from './response.ts';

/**
 * The API Worker's side of SAML: it asks the SAML Worker (src/workers/saml.ts, the SAML_XML service binding) for
 * everything XML, and keeps the single-use checks in Redis. Type-only imports of the XML modules: none of them is
 * part of this Worker's bundle.
 */
export interface SamlContext {
  /** SAML_XML: the SAML Worker. */
  bindings: Pick<Bindings, 'SAML_XML'>;
  logger: Logger;
}

/** A call to the SAML Worker: its refusal thrown as the SamlError it was; a failure to reach it is a 503. */
export async function samlCall<T>(
  ctx: SamlContext,
  call: (saml: Bindings['SAML_XML']) => Promise<Outcome<T, SamlRefusal>>,
) {
  const outcome = await callFeatureWorker(
    ctx,
    'SAML_XML',
    () => call(ctx.bindings.SAML_XML),
    'SAML sign-in is unavailable right now.',
  );
  if (!outcome.ok) throw new SamlError(outcome.refusal.code, outcome.refusal.message);
  return outcome.value;
}

export interface StartSamlSignInInput {
  connectionId: string;
  config: SamlConnectionConfig;
  sp: SamlServiceProvider;
  /** Where to send the user after sign-in; must pass `isAllowedRedirect`. */
  relayState?: string;
  isAllowedRedirect: (target: string) => boolean;
}

/**
 * Builds the AuthnRequest (HTTP-Redirect binding, in the SAML Worker) and remembers its ID for the InResponseTo
 * check. Costs one Redis round trip (a SET with TTL).
 */
export async function startSamlSignIn({
  ctx,
  input,
}: {
  ctx: SamlContext & { redis: Redis };
  input: StartSamlSignInInput;
}): Promise<SamlSignInStart> {
  if (input.relayState !== undefined && !input.isAllowedRedirect(input.relayState)) {
    throw new SamlError('saml_relay_state_refused', 'The return address is not allowed.');
  }
  const { config, sp, relayState } = input;
  const start = await samlCall(ctx, (saml) => saml.authnRequest({ config, sp, relayState }));
  await ctx.redis.set(samlRequestKey(input.connectionId, start.requestId), '1', { ex: SAML_REQUEST_TTL_SECONDS });
  return start;
}

export interface ConsumeSamlResponseInput {
  connectionId: string;
  config: SamlConnectionConfig;
  sp: SamlServiceProvider;
  /** The SAMLResponse form field of the POST to the ACS (base64). */
  samlResponse: string;
  /** The RelayState form field, if any. */
  relayState?: string;
  isAllowedRedirect: (target: string) => boolean;
  /** The clock (tests); defaults to now. */
  now?: Date;
}

/**
 * Validates a SAML Response posted to the ACS (HTTP-POST binding) and returns the identity it asserts: the
 * RelayState allowed by `isAllowedRedirect`, then everything verifySamlResponse checks (in the SAML Worker: the
 * signature, issuer, audience, recipient, destination, times), then single use: InResponseTo names an outstanding
 * AuthnRequest of this connection (consumed), and the assertion ID was never seen before.
 *
 * Costs one Redis round trip (a pipeline: SET NX of the assertion ID, GETDEL of the request ID) and one RPC.
 */
export async function consumeSamlResponse({
  ctx,
  input,
}: {
  ctx: SamlContext & { redis: Redis };
  input: ConsumeSamlResponseInput;
}): Promise<SamlIdentity> {
  const { config, sp, samlResponse, relayState, now } = input;
  if (relayState !== undefined && relayState !== '' && !input.isAllowedRedirect(relayState)) {
    throw new SamlError('saml_relay_state_refused', 'The return address is not allowed.');
  }
  const { identity, assertionId, replaySeconds } = await samlCall(ctx, (saml) =>
    saml.verifyResponse({ config, sp, samlResponse, relayState, now }),
  );

  const pipeline = ctx.redis.pipeline();
  pipeline.set(samlAssertionKey(input.connectionId, assertionId), '1', { nx: true, ex: replaySeconds });
  if (identity.inResponseTo !== null) pipeline.getdel(samlRequestKey(input.connectionId, identity.inResponseTo));
  const [fresh, outstanding] = await pipeline.exec<[string | null, string | null]>();
  if (fresh === null) throw new SamlError('saml_assertion_replayed', 'This assertion has been used already.');
  if (identity.inResponseTo !== null && outstanding === null) {
    throw new SamlError('saml_in_response_to_unknown', 'InResponseTo names no outstanding request.');
  }
  return identity;
}
