import { formatEventTime } from './format.ts';
import { message, type Branding, type EmailMessage } from './messages.ts';

/** Where and when a security event happened, as the notice tells the account holder. */
export interface SecurityEventFacts {
  /** A short label of the device (`Firefox on Windows`), from its user agent. */
  device: string;
  /** The client address (CF-Connecting-IP), when known. */
  ip: string | null;
  at: Date;
  /** The account's own time zone: the time is written in it. */
  timeZone: string;
}

function factLines(facts: SecurityEventFacts): string[] {
  return [
    `When: ${formatEventTime(facts.at, facts.timeZone)}`,
    `Device: ${facts.device}`,
    ...(facts.ip === null ? [] : [`Address: ${facts.ip}`]),
  ];
}

/**
 * "Your password was changed": to the account's address after a change of password (the password is the account's,
 * so the mail says its other sessions everywhere ended). If it was not them, the button leads to a password reset.
 */
export function passwordChangedEmail(input: {
  id: string;
  to: string;
  facts: SecurityEventFacts;
  resetUrl: string;
  branding: Branding;
}): EmailMessage {
  return message(
    input.id,
    input.to,
    input.branding,
    `Your ${input.branding.displayName} password was changed`,
    [
      'Hello,',
      'The password of your account was changed. Every other session of the account was signed out, in every ' +
        'organization it belongs to.',
      ...factLines(input.facts),
      'If this was not you, reset your password now and check your account’s sessions.',
    ],
    { label: 'Reset password', url: input.resetUrl },
  );
}

/**
 * "New sign-in": to the account's address after a sign-in from a device the account has not used in this
 * organization before (src/services/auth/sign-in-notice.ts decides).
 */
export function newSignInEmail(input: {
  id: string;
  to: string;
  facts: SecurityEventFacts;
  branding: Branding;
}): EmailMessage {
  return message(input.id, input.to, input.branding, `New sign-in to your ${input.branding.displayName} account`, [
    'Hello,',
    'Your account was just signed in to from a device it has not used here before.',
    ...factLines(input.facts),
    'If this was you, there is nothing to do. If not, change your password at once (or reset it) and end the ' +
      'sessions you do not know.',
  ]);
}

/**
 * "Support is viewing your account": to the member's address when a platform administrator starts an impersonation
 * of them (src/services/impersonations/), read-only, with the reason given and the end. Sent whatever the
 * `emailNotifications` preference, like every security notice.
 */
export function impersonationStartedEmail(input: {
  id: string;
  to: string;
  reason: string;
  until: Date;
  timeZone: string;
  branding: Branding;
}): EmailMessage {
  return message(input.id, input.to, input.branding, `Support is viewing your ${input.branding.displayName} account`, [
    'Hello,',
    `A platform support administrator started acting as your account in ${input.branding.displayName}, read-only: ` +
      'nothing can be changed in your name.',
    `Reason given: ${input.reason}`,
    `Until: ${formatEventTime(input.until, input.timeZone)} at the latest`,
    "The organization's owner can see it in the list of impersonations and end it at any time.",
  ]);
}
