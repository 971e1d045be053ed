import { z } from '@hono/zod-openapi';
import { emailLayout, markup, type Branding, type EmailMessage } from './messages.ts';

/** The `email.webhook_disabled` payload: the endpoint the webhook dispatcher disabled after failing too long. */
export const WebhookDisabledPayloadSchema = z.object({
  endpointId: z.string().min(1),
  url: z.string().min(1).max(2048),
  reason: z.string().max(500).optional(),
});
export type WebhookDisabledPayload = z.infer<typeof WebhookDisabledPayloadSchema>;

/** The notice to one owner of the organization that a webhook endpoint no longer receives events. */
export function webhookDisabledEmail(input: {
  id: string;
  to: string;
  name: string;
  endpoint: WebhookDisabledPayload;
  branding: Branding;
}): EmailMessage {
  const { endpoint, branding } = input;
  const subject = `A webhook endpoint of ${branding.displayName} was disabled`.replace(/[\r\n]+/g, ' ');
  const paragraphs = [
    `Hello ${input.name},`,
    `The webhook endpoint ${endpoint.url} (${endpoint.endpointId}) was disabled because its deliveries kept failing.`,
    ...(endpoint.reason ? [`Reason: ${endpoint.reason}`] : []),
    'No events are sent to it while it is disabled. Fix the receiver, then enable the endpoint again through the ' +
      'webhooks API.',
    'You receive this email as an owner of the organization.',
  ];
  return {
    id: input.id,
    to: input.to,
    fromName: branding.senderName,
    subject,
    text: [
      ...paragraphs.flatMap((line, index) => (index === 0 ? [line] : ['', line])),
      '',
      `-- ${branding.displayName}`,
    ].join('\n'),
    html: emailLayout(
      branding,
      subject,
      paragraphs.map((line) => markup`<p>${line}</p>`),
    ),
    links: [],
  };
}
