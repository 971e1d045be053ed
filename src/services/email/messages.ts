/** A rendered email, provider-independent. */
export interface EmailMessage {
  to: string;
  /** Display name of the sender (the organization's `emailSenderName` branding, or its name). */
  fromName: string;
  subject: string;
  text: string;
  html: string;
  /** Deduplication key: a message with the same id is delivered at most once. */
  id: string;
  /** Links in the message, for the local capture provider's printout and tests. */
  links: string[];
}

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

const SAFE_COLOR = /^#[0-9a-fA-F]{3,8}$/;

function layout(
  branding: Branding,
  heading: string,
  paragraphs: string[],
  action: { label: string; url: string },
): string {
  const color = SAFE_COLOR.test(branding.primaryColor) ? branding.primaryColor : '#4f46e5';
  const logo =
    branding.logoUrl !== null && /^https:\/\//.test(branding.logoUrl)
      ? `<img src="${escapeHtml(branding.logoUrl)}" alt="${escapeHtml(branding.displayName)}" height="40"><br>`
      : '';
  return [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">',
    `${logo}<h1 style="font-size:20px">${escapeHtml(heading)}</h1>`,
    ...paragraphs.map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`),
    `<p><a href="${escapeHtml(action.url)}" style="background:${color};color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">${escapeHtml(action.label)}</a></p>`,
    `<p style="color:#666;font-size:12px">${escapeHtml(branding.displayName)}</p>`,
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
    html: layout(branding, subject, paragraphs, action),
    links: [action.url],
  };
}

export function verificationEmail(input: { id: string; to: string; name: string; url: string; branding: Branding }) {
  return message(
    input.id,
    input.to,
    input.branding,
    `Verify your email for ${input.branding.displayName}`,
    [`Hello ${input.name},`, 'Confirm that this is your email address. The link is valid for 24 hours.'],
    { label: 'Verify email', url: input.url },
  );
}

export function passwordResetEmail(input: { id: string; to: string; name: string; url: string; branding: Branding }) {
  return message(
    input.id,
    input.to,
    input.branding,
    `Reset your ${input.branding.displayName} password`,
    [
      `Hello ${input.name},`,
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
