import { z } from '@hono/zod-openapi';

/** A rendered email, provider-independent. */
export interface EmailMessage {
  to: string;
  /** Display name of the sender (the organization's `emailSenderName` branding, or its name). */
  fromName: string;
  subject: string;
  text: string;
  html: string;
  /** Deduplication key (and the provider's Idempotency-Key): a message with the same id is sent once (deliver.ts). */
  id: string;
  /** Links in the message, for the local capture provider's printout and tests. */
  links: string[];
}

/**
 * The `email.send` queue payload: an EmailMessage as `sendLater` enqueued it. Shape checks only (the address was
 * validated where it was entered); a payload that fails them is retried and ends in the dead-letter queue unsent.
 */
export const EmailMessageSchema = z.object({
  id: z.string().min(1).max(256),
  to: z.string().min(3).max(320).includes('@'),
  fromName: z.string().max(500),
  subject: z.string().min(1).max(998),
  text: z.string().min(1),
  html: z.string().min(1),
  links: z.array(z.string()),
}) satisfies z.ZodType<EmailMessage>;

export interface Branding {
  displayName: string;
  senderName: string;
  primaryColor: string;
  logoUrl: string | null;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** HTML that is already escaped: only `markup` makes it, so every other string is escaped on the way in. */
export interface SafeHtml {
  readonly __html: string;
}

type HtmlValue = string | number | SafeHtml | readonly SafeHtml[];

function htmlOf(value: HtmlValue): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return escapeHtml(value);
  if ('__html' in value) return value.__html;
  return value.map((item) => item.__html).join('');
}

/**
 * A template tag for email HTML: interpolated strings are escaped (text and attribute values alike), `SafeHtml`
 * fragments (from another `markup` template) are kept as they are.
 *
 * @example
 * markup`<p>Hello ${name}</p>` // name '<b>' -> <p>Hello &lt;b&gt;</p>
 */
export function markup(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += htmlOf(value) + (strings[index + 1] ?? '');
  });
  return { __html: out };
}

const SAFE_COLOR = /^#[0-9a-fA-F]{3,8}$/;

/** The organization's primary color when it is a plain hex color (it lands in a style attribute), else the default. */
export function brandColor(branding: Branding): string {
  return SAFE_COLOR.test(branding.primaryColor) ? branding.primaryColor : '#4f46e5';
}

/** The branded page around an email's content: logo (https only), heading, body, optional button, footer. */
export function emailLayout(
  branding: Branding,
  heading: string,
  body: readonly SafeHtml[],
  action?: { label: string; url: string },
): string {
  const color = brandColor(branding);
  const logo =
    branding.logoUrl !== null && /^https:\/\//.test(branding.logoUrl)
      ? markup`<img src="${branding.logoUrl}" alt="${branding.displayName}" height="40"><br>`
      : markup``;
  const button = action
    ? [
        markup`<p><a href="${action.url}" style="background:${color};color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">${action.label}</a></p>`,
      ]
    : [];
  return [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">',
    markup`${logo}<h1 style="font-size:20px;color:${color}">${heading}</h1>`.__html,
    ...[...body, ...button].map((fragment) => fragment.__html),
    markup`<p style="color:#666;font-size:12px">${branding.displayName}</p>`.__html,
    '</body></html>',
  ].join('\n');
}

function message(
  id: string,
  to: string,
  branding: Branding,
  subject: string,
  paragraphs: string[],
  action: { label: string; url: string },
): EmailMessage {
  return {
    id,
    to,
    fromName: branding.senderName,
    subject,
    text: [...paragraphs, '', `${action.label}: ${action.url}`, '', `-- ${branding.displayName}`].join('\n'),
    html: emailLayout(
      branding,
      subject,
      paragraphs.map((paragraph) => markup`<p>${paragraph}</p>`),
      action,
    ),
    links: [action.url],
  };
}

// Account mails greet no one by name: the name was typed by whoever asked for the mail (a sign-up can name any address),
// and in a greeting it would read as the organization's words.

/** The address-verification mail (sign-up, resend). */
export function verificationEmail(input: { id: string; to: string; url: string; branding: Branding }) {
  return message(
    input.id,
    input.to,
    input.branding,
    `Verify your email for ${input.branding.displayName}`,
    ['Hello,', 'Confirm that this is your email address. The link is valid for 24 hours.'],
    { label: 'Verify email', url: input.url },
  );
}

/** The password-reset mail. */
export function passwordResetEmail(input: { id: string; to: string; url: string; branding: Branding }) {
  return message(
    input.id,
    input.to,
    input.branding,
    `Reset your ${input.branding.displayName} password`,
    [
      'Hello,',
      'Someone asked to reset the password of this account. The link is valid for 1 hour and works once.',
      'If it was not you, ignore this email: your password stays as it is.',
    ],
    { label: 'Choose a new password', url: input.url },
  );
}

export function invitationEmail(input: {
  id: string;
  to: string;
  inviterName: string;
  role: string;
  url: string;
  branding: Branding;
}) {
  return message(
    input.id,
    input.to,
    input.branding,
    `You are invited to ${input.branding.displayName}`,
    [
      `${input.inviterName} invited you to join ${input.branding.displayName} as ${input.role}.`,
      'Accept the invitation by choosing a password. The link is valid for 7 days.',
    ],
    { label: 'Accept invitation', url: input.url },
  );
}

const MFA_NOTICES = {
  recovery_code_used: {
    subject: (name: string) => `A recovery code was used to sign in to ${name}`,
    text: (left: number) =>
      `One of your recovery codes was just used to sign in. ${left} unused code(s) remain; each works once.`,
  },
  mfa_enabled: {
    subject: (name: string) => `Two-step verification is on for ${name}`,
    text: () => 'An authenticator app was added to your account: signing in now asks for its code.',
  },
  mfa_disabled: {
    subject: (name: string) => `Two-step verification was turned off for ${name}`,
    text: () => 'The authenticator app was removed from your account and its recovery codes no longer work.',
  },
} as const;

/** A security notice about the account's second factors (a recovery code used, MFA turned on or off). */
export function mfaNoticeEmail(input: {
  id: string;
  to: string;
  kind: keyof typeof MFA_NOTICES;
  recoveryCodesLeft?: number;
  url: string;
  branding: Branding;
}) {
  const notice = MFA_NOTICES[input.kind];
  return message(
    input.id,
    input.to,
    input.branding,
    notice.subject(input.branding.displayName),
    [
      'Hello,',
      notice.text(input.recoveryCodesLeft ?? 0),
      'If this was not you, sign in, change your password and review your second factors at once.',
    ],
    { label: 'Review your account security', url: input.url },
  );
}
