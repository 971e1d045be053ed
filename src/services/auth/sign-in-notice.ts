import { and, eq, ne } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { refreshTokens, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import { brandingQuery, emailBranding, emailEnvelope } from '../email/branding.ts';
import { newSignInEmail } from '../email/security.ts';
import { deviceLabel, sameDevice } from './devices.ts';

/** The facts of a recorded sign-in that the notice needs (a subset of the audit queue's LoginRecord). */
export interface SignIn {
  userId: string;
  /** The new session (refresh family): excluded from the account's known devices, and the email's id. */
  sessionId: string;
  at: string;
  client: { ip: string | null; userAgent: string | null };
}

/** How many distinct user agents of the account's earlier sessions here are compared with the new one. */
const KNOWN_DEVICES = 50;

/**
 * The "new sign-in" email, sent by the AUDIT_QUEUE consumer after it recorded a sign-in (never on the sign-in's
 * request path). Sent only for a device the account has not used in this organization before: the account has
 * earlier sessions here (any refresh family but this one, ended ones included) and none of them has the same device
 * label (`sameDevice`: a browser update is the same device; an address change alone is not a new device, since
 * mobile and home addresses change all the time). The account's first session here (sign-up, first sign-in after an
 * invitation) has nothing to compare with and gets no notice. Platform sign-ins (no organization) get none. Security notices ignore the `emailNotifications`
 * preference. One database round trip (the account, its known agents and the branding), then the email queue; the
 * message id is per session, so a redelivered record sends one email.
 */
export async function notifyNewSignIn(
  db: Database,
  bindings: Pick<Bindings, 'EMAIL_QUEUE'>,
  organizationId: string | null,
  signIn: SignIn,
): Promise<void> {
  if (organizationId === null) return;
  const [accounts, known, organization] = await scoped(db, { organizationId }, [
    db.select({ email: users.email, timezone: users.timezone }).from(users).where(eq(users.id, signIn.userId)),
    db
      .selectDistinct({ userAgent: refreshTokens.userAgent })
      .from(refreshTokens)
      .where(
        and(
          eq(refreshTokens.organizationId, organizationId),
          eq(refreshTokens.userId, signIn.userId),
          ne(refreshTokens.familyId, signIn.sessionId),
        ),
      )
      .limit(KNOWN_DEVICES),
    brandingQuery(db, organizationId),
  ]);
  const account = accounts[0];
  if (account === undefined || organization[0] === undefined) return;
  // No earlier session here: the account's first sign-in in this organization (just joined), nothing to compare with.
  if (known.length === 0 || known.some((session) => sameDevice(session.userAgent, signIn.client.userAgent))) return;
  const message = newSignInEmail({
    id: `auth.new_sign_in:${signIn.sessionId}`,
    to: account.email,
    facts: {
      device: deviceLabel(signIn.client.userAgent),
      ip: signIn.client.ip,
      at: new Date(signIn.at),
      timeZone: account.timezone,
    },
    branding: emailBranding(organization[0]),
  });
  await bindings.EMAIL_QUEUE.send(emailEnvelope(message, organizationId), { contentType: 'json' });
}
