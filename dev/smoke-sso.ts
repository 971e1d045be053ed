/**
 * The SSO walk-through of README.md, in a real browser, against a running `npm run dev` (started by
 * .ci/smoke-dev.sh): POST /api/v1/sso/authorize on globex, the local IdP's login and consent pages in chromium, the
 * callback, and the one-time code exchanged for the seeded admin's session.
 *
 * Usage: node dev/smoke-sso.ts <port>
 */
import http from 'node:http';
import { chromium } from 'playwright-core';
import { DEV_SSO_CONNECTION_ID, DEV_SSO_ORGANIZATION } from './oidc-idp.ts';

const port = Number(process.argv[2] ?? 8787);
const host = `${DEV_SSO_ORGANIZATION}.localhost:${String(port)}`;

/** A JSON POST to the organization's host (Node does not resolve *.localhost; browsers do). */
function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { host, 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

const started = await post('/api/v1/sso/authorize', {
  connectionId: DEV_SSO_CONNECTION_ID,
  redirectUri: `http://${host}/signed-in`,
});
if (started.status !== 200 || typeof started.body.authorizationUrl !== 'string') {
  throw new Error(`authorize answered ${String(started.status)}: ${JSON.stringify(started.body)}`);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  await page.goto(started.body.authorizationUrl);
  await page.fill('input[name=login]', `admin@${DEV_SSO_ORGANIZATION}.test`);
  await page.fill('input[name=password]', 'any password');
  await Promise.all([page.waitForURL(/\/interaction\//), page.click('button[type=submit]')]);
  // The consent page, then the callback and the app's page with the code.
  await Promise.all([page.waitForURL(new RegExp(`^http://${host}/signed-in`)), page.click('button[type=submit]')]);
  const code = new URL(page.url()).searchParams.get('code');
  const session = await post('/api/v1/sso/token', { code });
  const user = session.body.user as { email?: string } | undefined;
  if (session.status !== 200 || user?.email !== `admin@${DEV_SSO_ORGANIZATION}.test`) {
    throw new Error(`the code exchange answered ${String(session.status)}: ${JSON.stringify(session.body)}`);
  }
  console.log(`SSO walk-through: signed in as ${user.email} through the local IdP`);
} finally {
  await browser.close();
}
