import { describe, expect, it } from 'vitest';
import { SocialCredentialsSchema } from '../../src/env.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { socialSignIn } from '../../src/services/sso/social.ts';

// The providers' production endpoints and the platform-client rules; the sign-ins themselves run in workerd against
// the local stand-ins (tests/worker/sso-social.test.ts).
const credentials = SocialCredentialsSchema.parse({
  google: { clientId: 'g-id', clientSecret: 'g-secret' },
  microsoft: { clientId: 'm-id', clientSecret: 'm-secret' },
});
const production = {
  ENVIRONMENT: 'production',
  SOCIAL_ISSUERS: undefined,
  SOCIAL_LOGIN_CREDENTIALS: credentials,
} as const;

describe('social login presets', () => {
  it('uses the providers’ own issuers in production', () => {
    expect(socialSignIn('google', { clientId: null }, production)).toEqual({
      config: {
        issuer: 'https://accounts.google.com',
        clientId: 'g-id',
        scopes: ['openid', 'email', 'profile'],
        claims: { email: 'email', name: 'name', groups: 'groups' },
      },
      expectedIssuer: 'https://accounts.google.com',
      emailVerifiedClaim: 'email_verified',
      platformClient: true,
    });
    const linkedin = socialSignIn('linkedin', { clientId: 'own' }, production);
    expect(linkedin).toMatchObject({
      config: { issuer: 'https://www.linkedin.com/oauth', clientId: 'own' },
      platformClient: false,
    });
  });

  it('knows Entra ID’s issuers: the {tenantid} template, the consumers’ tenant, a pinned tenant', () => {
    const base = 'https://login.microsoftonline.com';
    const organizations = socialSignIn('microsoft', { clientId: null, tenant: 'organizations' }, production);
    expect(organizations).toMatchObject({
      config: { issuer: `${base}/organizations/v2.0`, clientId: 'm-id' },
      expectedIssuer: `${base}/{tenantid}/v2.0`,
      emailVerifiedClaim: 'xms_edov',
    });
    expect(socialSignIn('microsoft', { clientId: null }, production).config.issuer).toBe(`${base}/organizations/v2.0`);
    expect(socialSignIn('microsoft', { clientId: null, tenant: 'common' }, production).expectedIssuer).toBe(
      `${base}/{tenantid}/v2.0`,
    );
    expect(socialSignIn('microsoft', { clientId: null, tenant: 'consumers' }, production).expectedIssuer).toBe(
      `${base}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0`,
    );
    const pinned = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
    expect(socialSignIn('microsoft', { clientId: null, tenant: pinned }, production)).toMatchObject({
      config: { issuer: `${base}/${pinned}/v2.0` },
      expectedIssuer: `${base}/${pinned}/v2.0`,
    });
  });

  it('answers 503 for a platform client the platform does not have, and refuses SOCIAL_ISSUERS outside local', () => {
    const missing = () => socialSignIn('linkedin', { clientId: null }, production);
    expect(missing).toThrow(ApiError);
    expect(missing).toThrow(/needs this organization's own client/);
    for (const ENVIRONMENT of ['staging', 'production'] as const) {
      const redirected = () =>
        socialSignIn(
          'google',
          { clientId: 'own' },
          { ENVIRONMENT, SOCIAL_ISSUERS: { google: 'http://127.0.0.1:1' }, SOCIAL_LOGIN_CREDENTIALS: undefined },
        );
      expect(redirected).toThrow(/local environment only/);
    }
    const local = socialSignIn(
      'google',
      { clientId: 'own' },
      { ENVIRONMENT: 'local', SOCIAL_ISSUERS: { google: 'http://127.0.0.1:1' }, SOCIAL_LOGIN_CREDENTIALS: undefined },
    );
    expect(local.config.issuer).toBe('http://127.0.0.1:1');
  });
});
