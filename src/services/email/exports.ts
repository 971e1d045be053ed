import { message, type Branding, type EmailMessage } from './messages.ts';

/**
 * The mail to the person who asked for an organization export, once it is ready. It carries no download link (those
 * are signed for minutes): the button leads to the export's status, which hands out fresh links to a signed-in member.
 */
export function exportReadyEmail(input: {
  id: string;
  to: string;
  branding: Branding;
  url: string;
  expiresAt: Date;
}): EmailMessage {
  return message(
    input.id,
    input.to,
    input.branding,
    `Your ${input.branding.displayName} export is ready`,
    [
      'Hello,',
      'The organization export you asked for is ready to download.',
      `Open the export in the API (GET ${input.url}) to get its download links; each link works for 15 minutes. ` +
        `The files are kept until ${input.expiresAt.toISOString()}.`,
    ],
    { label: 'Open the export', url: input.url },
  );
}
