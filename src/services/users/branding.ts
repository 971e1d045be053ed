import type { Organization } from '../../db/schema/index.ts';
import type { Branding } from '../email/messages.ts';

const DEFAULT_PRIMARY_COLOR = '#4f46e5';

/** The organization's email branding, with defaults for what it has not set. */
export function emailBranding(organization: Pick<Organization, 'name' | 'branding'>): Branding {
  const { branding } = organization;
  const displayName = branding.displayName ?? organization.name;
  return {
    displayName,
    senderName: branding.emailSenderName ?? displayName,
    primaryColor: branding.primaryColor ?? DEFAULT_PRIMARY_COLOR,
    logoUrl: branding.logoUrl ?? null,
  };
}
