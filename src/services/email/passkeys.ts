import { emailLayout, markup, type Branding, type EmailMessage } from './messages.ts';

/**
 * The "passkey added" security notice, sent after a passkey is registered: if the user did not add it, the account is
 * in someone else's hands too, and the notice says what to do. It names the passkey as the user labelled it (escaped
 * in the HTML) and carries no link: a security notice that asks for a click trains users to follow phishing.
 */
export function passkeyAddedEmail(input: {
  id: string;
  to: string;
  passkeyName: string;
  branding: Branding;
}): EmailMessage {
  const subject = `A passkey was added to your ${input.branding.displayName} account`;
  const paragraphs = [
    'Hello,',
    `A new passkey, “${input.passkeyName}”, can now sign in to your account.`,
    'If you did not add it, sign in, remove it from your passkeys and change your password.',
  ];
  return {
    id: input.id,
    to: input.to,
    fromName: input.branding.senderName,
    subject,
    text: [...paragraphs, '', `-- ${input.branding.displayName}`].join('\n'),
    html: emailLayout(
      input.branding,
      subject,
      paragraphs.map((paragraph) => markup`<p>${paragraph}</p>`),
    ),
    links: [],
  };
}
