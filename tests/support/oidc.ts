import { expect, inject } from 'vitest';
import type { IdpAccount } from '../setup/provided-context.ts';

export type { IdpAccount };

/*
 * The browser and the administrator at the tests' OpenID Provider (tests/setup/oidc-idp.ts), shared by the SSO and
 * social login tests.
 */

/** Creates or replaces the account the IdP signs in for `login_hint=<sub>` (one store for every stand-in). */
export async function idpAccount(account: IdpAccount): Promise<void> {
  const response = await fetch(`${inject('oidcIssuer')}/__accounts`, {
    method: 'POST',
    body: JSON.stringify(account),
  });
  expect(response.status).toBe(204);
}

/** Registers a client at an issuer of the IdP by RFC 7591 dynamic registration: its id and secret. */
export async function registerIdpClient(
  issuer: string,
  redirectUri: string,
  authMethod = 'client_secret_basic',
): Promise<{ client_id: string; client_secret: string }> {
  const registered = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: authMethod }),
  });
  expect(registered.status, await registered.clone().text()).toBe(201);
  return registered.json();
}

/** The browser at the IdP: follows its redirects (with its cookies) until it is sent to `callbackUrl`. */
export async function atIdp(authorizationUrl: string, callbackUrl: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = authorizationUrl;
  for (let hop = 0; hop < 10; hop += 1) {
    if (url.startsWith(callbackUrl)) return url;
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const location = response.headers.get('location');
    if (location === null) throw new Error(`the IdP answered ${response.status}: ${await response.text()}`);
    url = new URL(location, url).toString();
  }
  throw new Error('the IdP never sent the browser back');
}

/** Publishes `body` at a URL of the tests' IdP server (the Worker may fetch loopback http locally): its URL. */
export async function publishDocument(body: string): Promise<string> {
  const url = `${inject('oidcIssuer')}/__documents/${crypto.randomUUID()}`;
  const response = await fetch(url, { method: 'PUT', body });
  expect(response.status).toBe(204);
  return url;
}
