import { describe, expect, it } from 'vitest';
import { inflateRawSync } from 'node:zlib';
import { ApiError } from '../../src/errors/api-error.ts';
import { createLogger } from '../../src/lib/logger.ts';
import type { Redis } from '@upstash/redis/cloudflare';
import { createRedis } from '../../src/lib/redis.ts';
import {
  consumeSamlResponse,
  parseIdpMetadata,
  SAML_RESPONSE_MAX_CHARS,
  SamlConnectionConfigSchema,
  SamlError,
  samlServiceProvider,
  samlRequestKey,
  samlServiceProviderMetadata,
  startSamlSignIn,
  type SamlConnectionConfigInput,
  type SamlErrorCode,
} from '../../src/services/sso/saml/index.ts';
import { bindings } from '../support/auth.ts';
import { newRequestId, roundTrips } from '../support/harness.ts';
import {
  assertionXml,
  postBinding,
  responseXml,
  sign,
  TEST_IDP_ENTITY_ID,
  TEST_IDP_SSO_URL,
  type AssertionOptions,
  idpMetadataXml,
} from '../support/saml-idp.ts';
import { IDP_CERT, OTHER_CERT, OTHER_KEY } from '../support/saml-keys.ts';

// The SAML 2.0 service provider (src/services/sso/saml) run in workerd against real Redis, with a real IdP side
// (tests/support/saml-idp.ts: xml-crypto signatures with a test certificate) and crafted attacks.

const allowAll = (): boolean => true;
/** What consumeSamlResponse and startSamlSignIn need: Redis, and the SAML Worker behind the test Worker's binding. */
const samlContext = (redis: Redis) => ({
  redis,
  bindings: { SAML_XML: bindings().SAML_XML },
  logger: createLogger({}, 'error'),
});
const allowLocal = (target: string): boolean => target.startsWith('/') && !target.startsWith('//');

function setUp(overrides: Partial<SamlConnectionConfigInput> = {}) {
  const connectionId = crypto.randomUUID();
  const sp = samlServiceProvider('https://acme.eventra.test', connectionId);
  const config = SamlConnectionConfigSchema.parse({
    idpEntityId: TEST_IDP_ENTITY_ID,
    ssoUrl: TEST_IDP_SSO_URL,
    signingCertificates: [IDP_CERT],
    attributes: { groups: 'memberOf' },
    ...overrides,
  });
  const redis = createRedis(bindings());
  const start = (relayState?: string) =>
    startSamlSignIn({
      ctx: samlContext(redis),
      input: { connectionId, config, sp, isAllowedRedirect: allowLocal, ...(relayState ? { relayState } : {}) },
    });
  const consume = (xml: string, extra: { relayState?: string; redis?: typeof redis } = {}) =>
    consumeSamlResponse({
      ctx: samlContext(extra.redis ?? redis),
      input: {
        connectionId,
        config,
        sp,
        samlResponse: postBinding(xml),
        isAllowedRedirect: allowLocal,
        ...(extra.relayState === undefined ? {} : { relayState: extra.relayState }),
      },
    });
  const assertion = (options: Partial<AssertionOptions> = {}) =>
    assertionXml({ audience: sp.entityId, recipient: sp.acsUrl, ...options });
  return { connectionId, sp, config, redis, start, consume, assertion };
}

async function refusal(promise: Promise<unknown>): Promise<SamlErrorCode> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SamlError);
  return (error as SamlError).code;
}

describe('SAML service provider', () => {
  it('verifies a signed assertion from the real IdP side in workerd (node-saml + xml-crypto)', async () => {
    const { start, consume, assertion, sp } = setUp({ emailVerifiedByIdp: true });
    const { redirectUrl, requestId } = await start('/events/42');
    const url = new URL(redirectUrl);
    expect(url.origin + url.pathname).toBe(TEST_IDP_SSO_URL);
    expect(url.searchParams.get('RelayState')).toBe('/events/42');
    const request = inflateRawSync(
      Uint8Array.from(atob(url.searchParams.get('SAMLRequest') ?? ''), (character) => character.charCodeAt(0)),
    ).toString('utf8');
    expect(request).toContain(`ID="${requestId}"`);
    expect(request).toContain(`AssertionConsumerServiceURL="${sp.acsUrl}"`);
    expect(request).toContain(`<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${sp.entityId}<`);

    const xml = responseXml(
      sign(
        assertion({
          inResponseTo: requestId,
          nameId: 'ada@example.com',
          sessionIndex: '_session-1',
          attributes: { email: ['ada@example.com'], name: ['Ada Lovelace'], memberOf: ['staff', 'admins'] },
        }),
        'Assertion',
      ),
      { destination: sp.acsUrl, inResponseTo: requestId },
    );
    const identity = await consume(xml, { relayState: '/events/42' });
    expect(identity).toEqual({
      subject: 'ada@example.com',
      nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      email: 'ada@example.com',
      emailVerified: true,
      name: 'Ada Lovelace',
      groups: ['staff', 'admins'],
      sessionIndex: '_session-1',
      inResponseTo: requestId,
      redirectTo: '/events/42',
    });
  });

  it('accepts a signed Response around an unsigned assertion, and keeps emails unverified unless configured', async () => {
    const { start, consume, assertion, sp } = setUp();
    const { requestId } = await start();
    const xml = sign(responseXml(assertion({ inResponseTo: requestId }), { destination: sp.acsUrl }), 'Response');
    const identity = await consume(xml);
    expect(identity.subject).toBe('ada@example.com');
    expect(identity.email).toBe('ada@example.com');
    expect(identity.emailVerified).toBe(false);
  });

  it('accepts a signature by the second certificate of a rotation', async () => {
    const { start, consume, assertion } = setUp({ signingCertificates: [IDP_CERT, OTHER_CERT] });
    const { requestId } = await start();
    const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion', OTHER_KEY, OTHER_CERT));
    expect((await consume(xml)).inResponseTo).toBe(requestId);
  });

  it('starts with one Redis round trip and consumes with one', async () => {
    const { connectionId, config, sp, assertion } = setUp();
    const startTrace = newRequestId();
    const { requestId } = await startSamlSignIn({
      ctx: samlContext(createRedis(bindings(), startTrace)),
      input: { connectionId, config, sp, isAllowedRedirect: allowAll },
    });
    const consumeTrace = newRequestId();
    await consumeSamlResponse({
      ctx: samlContext(createRedis(bindings(), consumeTrace)),
      input: {
        connectionId,
        config,
        sp,
        samlResponse: postBinding(responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'))),
        isAllowedRedirect: allowAll,
      },
    });
    expect((await roundTrips(startTrace)).redis).toBe(1);
    expect((await roundTrips(consumeTrace)).redis).toBe(1);
  });

  it('answers 503 while the SAML Worker cannot be reached, and consumes nothing', async () => {
    const { connectionId, config, sp, redis, start, consume, assertion } = setUp();
    const { requestId } = await start();
    const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'));
    // The SAML_XML binding as it fails when the SAML Worker is not deployed or crashed.
    const unreachable = Promise.reject(new Error('Worker "eventra-saml-local" not found'));
    unreachable.catch(() => undefined);
    const saml = { verifyResponse: () => unreachable } as unknown as ReturnType<typeof bindings>['SAML_XML'];
    const error: unknown = await consumeSamlResponse({
      ctx: { ...samlContext(redis), bindings: { SAML_XML: saml } },
      input: { connectionId, config, sp, samlResponse: postBinding(xml), isAllowedRedirect: allowAll },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'service_unavailable', status: 503 });
    // The AuthnRequest is still outstanding, and no assertion ID was taken: the same response signs in afterwards.
    expect(await redis.get(samlRequestKey(connectionId, requestId))).not.toBeNull();
    expect((await consume(xml)).inResponseTo).toBe(requestId);
  });

  it('accepts an IdP-initiated response only when the connection allows it', async () => {
    const allowed = setUp({ allowIdpInitiated: true });
    const identity = await allowed.consume(responseXml(sign(allowed.assertion(), 'Assertion')));
    expect(identity.inResponseTo).toBeNull();

    const refused = setUp();
    expect(await refusal(refused.consume(responseXml(sign(refused.assertion(), 'Assertion'))))).toBe(
      'saml_idp_initiated_refused',
    );
  });

  describe('refuses', () => {
    it('an unsigned assertion', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      expect(await refusal(consume(responseXml(assertion({ inResponseTo: requestId }))))).toBe('saml_unsigned');
    });

    it('a signature by a key the connection does not trust', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion', OTHER_KEY, OTHER_CERT));
      expect(await refusal(consume(xml))).toBe('saml_signature_invalid');
    });

    it('an assertion altered after signing', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const signed = sign(assertion({ inResponseTo: requestId, nameId: 'ada@example.com' }), 'Assertion');
      const xml = responseXml(signed.replace('ada@example.com', 'admin@example.com'));
      expect(await refusal(consume(xml))).toBe('saml_signature_invalid');
    });

    it('an unsigned assertion added before the signed one (XSW)', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const signed = sign(assertion({ inResponseTo: requestId }), 'Assertion');
      const forged = assertion({ inResponseTo: requestId, nameId: 'admin@example.com' });
      expect(await refusal(consume(responseXml(forged + signed)))).toBe('saml_multiple_assertions');
    });

    it('an unsigned assertion added after the signed one (XSW)', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const signed = sign(assertion({ inResponseTo: requestId }), 'Assertion');
      const forged = assertion({ inResponseTo: requestId, nameId: 'admin@example.com' });
      expect(await refusal(consume(responseXml(signed + forged)))).toBe('saml_multiple_assertions');
    });

    it('the signed assertion moved into Extensions with a forged one in its place (XSW)', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const signed = sign(assertion({ inResponseTo: requestId }), 'Assertion');
      const forged = assertion({ inResponseTo: requestId, nameId: 'admin@example.com' });
      const xml = responseXml(`<samlp:Extensions>${signed}</samlp:Extensions>${forged}`);
      expect(await refusal(consume(xml))).toBe('saml_signature_invalid');
    });

    it('a signed response moved inside a forged response (XSW)', async () => {
      const { start, consume, assertion, sp } = setUp();
      const { requestId } = await start();
      const original = sign(
        responseXml(assertion({ inResponseTo: requestId }), { destination: sp.acsUrl }),
        'Response',
      );
      const forged = assertion({ inResponseTo: requestId, nameId: 'admin@example.com' });
      // The forged response keeps the original's signature (as its own first child) and wraps the original whole.
      const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(original)?.[0] ?? '';
      const originalId = /ID="([^"]+)"/.exec(original)?.[1] ?? '';
      const wrapped = responseXml(`<samlp:Extensions>${original}</samlp:Extensions>${forged}`, {
        id: originalId,
        destination: sp.acsUrl,
      }).replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
      expect(await refusal(consume(wrapped))).toBe('saml_signature_invalid');
    });

    it('a signed response whose assertion was swapped for a forged one (XSW)', async () => {
      const { start, consume, assertion, sp } = setUp();
      const { requestId } = await start();
      const genuine = assertion({ inResponseTo: requestId });
      const original = sign(responseXml(genuine, { destination: sp.acsUrl }), 'Response');
      const forged = assertion({ inResponseTo: requestId, nameId: 'admin@example.com' });
      expect(await refusal(consume(original.replace(genuine, forged)))).toBe('saml_signature_invalid');
    });

    it('a wrong audience', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const xml = responseXml(
        sign(assertion({ inResponseTo: requestId, audience: 'https://other.example/sp' }), 'Assertion'),
      );
      expect(await refusal(consume(xml))).toBe('saml_audience_mismatch');
    });

    it('a wrong recipient', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const xml = responseXml(
        sign(assertion({ inResponseTo: requestId, recipient: 'https://other.example/acs' }), 'Assertion'),
      );
      expect(await refusal(consume(xml))).toBe('saml_recipient_mismatch');
    });

    it('a response addressed to another Destination', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'), {
        destination: 'https://other.example/acs',
      });
      expect(await refusal(consume(xml))).toBe('saml_destination_mismatch');
    });

    it('an assertion of another issuer signed with the trusted key', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const xml = responseXml(
        sign(assertion({ inResponseTo: requestId, issuer: 'https://evil.example' }), 'Assertion'),
      );
      expect(await refusal(consume(xml))).toBe('saml_issuer_mismatch');
    });

    it('an expired assertion (beyond 60 s of skew)', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const now = Date.now();
      const xml = responseXml(
        sign(
          assertion({
            inResponseTo: requestId,
            issueInstant: new Date(now - 10 * 60_000),
            notBefore: new Date(now - 10 * 60_000),
            notOnOrAfter: new Date(now - 2 * 60_000),
          }),
          'Assertion',
        ),
      );
      expect(await refusal(consume(xml))).toBe('saml_expired');
    });

    it('an assertion not yet valid (beyond 60 s of skew)', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const now = Date.now();
      const xml = responseXml(
        sign(
          assertion({
            inResponseTo: requestId,
            notBefore: new Date(now + 5 * 60_000),
            notOnOrAfter: new Date(now + 10 * 60_000),
          }),
          'Assertion',
        ),
      );
      expect(await refusal(consume(xml))).toBe('saml_not_yet_valid');
    });

    it('an assertion within the 60 s skew is accepted', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const now = Date.now();
      const xml = responseXml(
        sign(assertion({ inResponseTo: requestId, notBefore: new Date(now + 30_000) }), 'Assertion'),
      );
      expect((await consume(xml)).inResponseTo).toBe(requestId);
    });

    it('a replayed assertion', async () => {
      const { consume, assertion } = setUp({ allowIdpInitiated: true });
      const xml = responseXml(sign(assertion(), 'Assertion'));
      await consume(xml);
      expect(await refusal(consume(xml))).toBe('saml_assertion_replayed');
    });

    it('an InResponseTo naming no request of this connection', async () => {
      const { consume, assertion } = setUp();
      const other = setUp();
      const { requestId } = await other.start();
      const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'));
      expect(await refusal(consume(xml))).toBe('saml_in_response_to_unknown');
    });

    it('a second response to the same request', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      await consume(responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion')));
      const again = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'));
      expect(await refusal(consume(again))).toBe('saml_in_response_to_unknown');
    });

    it("a Response InResponseTo that differs from the signed assertion's", async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const { requestId: otherRequest } = await start();
      const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'), {
        inResponseTo: otherRequest,
      });
      expect(await refusal(consume(xml))).toBe('saml_in_response_to_mismatch');
    });

    it('a comment injected into the NameID', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const signed = sign(assertion({ inResponseTo: requestId, nameId: 'user@evil.com.example.com' }), 'Assertion');
      // Exclusive canonicalization drops comments, so the signature still verifies: a parser that read the first
      // text node would see user@evil.com.
      const xml = responseXml(signed.replace('user@evil.com.example.com', 'user@evil.com<!---->.example.com'));
      expect(await refusal(consume(xml))).toBe('saml_xml_comment_refused');
    });

    it('a DTD with entities (XXE, billion laughs)', async () => {
      const { start, consume, assertion } = setUp();
      const { requestId } = await start();
      const signed = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'));
      const laughs =
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>';
      expect(await refusal(consume(laughs + signed))).toBe('saml_xml_dtd_refused');
      const xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>';
      expect(await refusal(consume(xxe + signed.replace('ada@example.com', '&x;')))).toBe('saml_xml_dtd_refused');
    });

    it('a signed IdP error status', async () => {
      const { consume, sp } = setUp();
      const xml = sign(
        responseXml('', { destination: sp.acsUrl }).replace(
          ':status:Success"/>',
          ':status:Responder"/><samlp:StatusMessage>Access denied</samlp:StatusMessage>',
        ),
        'Response',
      );
      expect(await refusal(consume(xml))).toBe('saml_status_error');
    });

    it('an oversize response', async () => {
      const { connectionId, config, sp, redis } = setUp();
      const code = await refusal(
        consumeSamlResponse({
          ctx: samlContext(redis),
          input: {
            connectionId,
            config,
            sp,
            samlResponse: 'A'.repeat(SAML_RESPONSE_MAX_CHARS + 4),
            isAllowedRedirect: allowAll,
          },
        }),
      );
      expect(code).toBe('saml_response_too_large');
    });

    it('a response that is not base64 XML', async () => {
      const { connectionId, config, sp, redis } = setUp();
      const input = { connectionId, config, sp, isAllowedRedirect: allowAll };
      expect(
        await refusal(consumeSamlResponse({ ctx: samlContext(redis), input: { ...input, samlResponse: '%%%' } })),
      ).toBe('saml_response_malformed');
      expect(
        await refusal(
          consumeSamlResponse({
            ctx: samlContext(redis),
            input: { ...input, samlResponse: postBinding('<a><b></a>') },
          }),
        ),
      ).toBe('saml_response_malformed');
    });

    it('a RelayState outside the allow-list, at start and at the ACS', async () => {
      const { start, consume, assertion } = setUp();
      expect(await refusal(start('https://evil.example/'))).toBe('saml_relay_state_refused');
      const { requestId } = await start();
      const xml = responseXml(sign(assertion({ inResponseTo: requestId }), 'Assertion'));
      expect(await refusal(consume(xml, { relayState: '//evil.example/' }))).toBe('saml_relay_state_refused');
    });
  });

  describe('metadata', () => {
    const bare = IDP_CERT.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');

    it('describes the SP: entityID and ACS on the organization host', () => {
      const sp = samlServiceProvider('https://acme.eventra.test', 'conn-1');
      expect(sp).toEqual({
        entityId: 'https://acme.eventra.test/api/v1/sso/saml/conn-1/metadata',
        acsUrl: 'https://acme.eventra.test/api/v1/sso/saml/conn-1/acs',
      });
      const xml = samlServiceProviderMetadata(sp, {});
      expect(xml).toContain(`entityID="${sp.entityId}"`);
      expect(xml).toContain(
        `<AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${sp.acsUrl}"/>`,
      );
      expect(xml).toContain('WantAssertionsSigned="true"');
    });

    it('reads the IdP entityID, redirect SSO URL and signing certificate from XML, which configure a connection', () => {
      const metadata = parseIdpMetadata(idpMetadataXml(bare));
      expect(metadata).toEqual({
        idpEntityId: TEST_IDP_ENTITY_ID,
        ssoUrl: TEST_IDP_SSO_URL,
        signingCertificates: [bare],
      });
      expect(SamlConnectionConfigSchema.parse(metadata).signingCertificates).toEqual([bare]);
    });

    it('refuses metadata with a DTD or without an IdP', () => {
      expect(() => parseIdpMetadata(`<!DOCTYPE x [<!ENTITY a "a">]>${idpMetadataXml(bare)}`)).toThrow(SamlError);
      expect(() =>
        parseIdpMetadata('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>'),
      ).toThrow('The metadata describes no such IdP.');
    });
  });
});
