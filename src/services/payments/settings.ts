import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { paymentSettings } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { decryptSecret, encryptSecret } from '../../lib/crypto.ts';
import { auditInsert } from '../audit/record.ts';
import { actorOf } from '../events/shared.ts';

/** A Stripe secret (`sk_`) or restricted (`rk_`) key; the second group is the mode. */
export const STRIPE_SECRET_KEY = /^(sk|rk)_(test|live)_[A-Za-z0-9]{10,}$/;
/** A Stripe webhook endpoint's signing secret. */
export const STRIPE_WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/=]{10,}$/;

export type PaymentSettingsRow = typeof paymentSettings.$inferSelect;

export interface PaymentSettingsView {
  manualEnabled: boolean;
  manualInstructions: string;
  stripe: { configured: boolean; accountHint: string | null; mode: 'test' | 'live' | null };
}

export interface PaymentSettingsInput {
  manualEnabled?: boolean | undefined;
  manualInstructions?: string | undefined;
  /** Both Stripe secrets (replacing any stored ones), or null to remove Stripe. */
  stripe?: { secretKey: string; webhookSecret: string } | null | undefined;
}

/** What an organization without a settings row has: the column defaults (manual payment off, no Stripe). */
const DEFAULTS = { manualEnabled: false, manualInstructions: '' } as const;

/** `sk_test_…abcd`: the key's kind and mode and its last four characters, enough to recognise it. */
export function stripeAccountHint(secretKey: string): string {
  const match = STRIPE_SECRET_KEY.exec(secretKey);
  const prefix = match ? `${match[1]}_${match[2]}_` : '';
  return `${prefix}…${secretKey.slice(-4)}`;
}

function modeOf(hint: string | null): 'test' | 'live' | null {
  if (hint === null) return null;
  return /^(sk|rk)_live_/.test(hint) ? 'live' : 'test';
}

export function toPaymentSettingsView(row: PaymentSettingsRow | undefined): PaymentSettingsView {
  const configured = row?.stripeSecretKey != null && row.stripeWebhookSecret != null;
  const hint = configured ? (row.stripeAccountHint ?? null) : null;
  return {
    manualEnabled: row?.manualEnabled ?? DEFAULTS.manualEnabled,
    manualInstructions: row?.manualInstructions ?? DEFAULTS.manualInstructions,
    stripe: { configured, accountHint: hint, mode: configured ? modeOf(hint) : null },
  };
}

/** The organization's settings row (none until the first PUT); put it in a scoped batch. */
export function selectPaymentSettings(db: Database, organizationId: string) {
  return db.select().from(paymentSettings).where(eq(paymentSettings.organizationId, organizationId)).limit(1);
}

/** The Stripe secret key of a settings row, decrypted (throws DecryptionError when it cannot be). Never log it. */
export function decryptStripeSecretKey(
  bindings: Pick<Bindings, 'DATA_ENCRYPTION_KEY'>,
  organizationId: string,
  stored: string,
): Promise<string> {
  return decryptSecret(bindings.DATA_ENCRYPTION_KEY, { organizationId, purpose: 'stripe_secret_key' }, stored);
}

/** The Stripe webhook signing secret of a settings row, decrypted. Never log it. */
export function decryptStripeWebhookSecret(
  bindings: Pick<Bindings, 'DATA_ENCRYPTION_KEY'>,
  organizationId: string,
  stored: string,
): Promise<string> {
  return decryptSecret(bindings.DATA_ENCRYPTION_KEY, { organizationId, purpose: 'stripe_webhook_secret' }, stored);
}

/** GET /organization/payment-settings: one round trip. Secrets are never part of the view. */
export async function getPaymentSettings({ ctx }: { ctx: ServiceContext }): Promise<PaymentSettingsView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [selectPaymentSettings(db, tenant.id)]);
  return toPaymentSettingsView(row);
}

/**
 * PUT /organization/payment-settings: changes the given fields only. Stripe secrets are encrypted (AES-256-GCM,
 * bound to the organization) before they reach the database. Reads the current settings, then upserts the row with
 * its `payment_settings.updated` audit row in one batch (two round trips); a request that changes nothing writes
 * nothing. The audit metadata names the changed fields, never a secret.
 */
export async function updatePaymentSettings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: PaymentSettingsInput;
}): Promise<PaymentSettingsView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const [[current]] = await scoped(db, { organizationId }, [selectPaymentSettings(db, organizationId)]);
  const before = toPaymentSettingsView(current);

  const changed: string[] = [];
  const set: Partial<typeof paymentSettings.$inferInsert> = {};
  if (input.manualEnabled !== undefined && input.manualEnabled !== before.manualEnabled) {
    changed.push('manualEnabled');
    set.manualEnabled = input.manualEnabled;
  }
  if (input.manualInstructions !== undefined && input.manualInstructions !== before.manualInstructions) {
    changed.push('manualInstructions');
    set.manualInstructions = input.manualInstructions;
  }
  let stripeChange: 'configured' | 'replaced' | 'removed' | null = null;
  if (input.stripe === null && before.stripe.configured) {
    stripeChange = 'removed';
    set.stripeSecretKey = null;
    set.stripeWebhookSecret = null;
    set.stripeAccountHint = null;
  } else if (input.stripe !== null && input.stripe !== undefined) {
    stripeChange = before.stripe.configured ? 'replaced' : 'configured';
    const key = ctx.bindings.DATA_ENCRYPTION_KEY;
    set.stripeSecretKey = await encryptSecret(
      key,
      { organizationId, purpose: 'stripe_secret_key' },
      input.stripe.secretKey,
    );
    set.stripeWebhookSecret = await encryptSecret(
      key,
      { organizationId, purpose: 'stripe_webhook_secret' },
      input.stripe.webhookSecret,
    );
    set.stripeAccountHint = stripeAccountHint(input.stripe.secretKey);
  }
  if (stripeChange !== null) changed.push('stripe');
  if (changed.length === 0) return before;

  const [, , [row]] = await scoped(db, { organizationId }, [
    db
      .insert(paymentSettings)
      .values({ organizationId, ...set })
      .onConflictDoUpdate({ target: paymentSettings.organizationId, set: { ...set, updatedAt: sql`now()` } }),
    auditInsert(db, ctx.client, {
      organizationId,
      actor: actorOf(ctx),
      action: 'payment_settings.updated',
      target: { type: 'organization', id: organizationId },
      metadata: {
        changed,
        ...(stripeChange === null ? {} : { stripe: stripeChange }),
        ...(set.stripeAccountHint ? { stripeMode: modeOf(set.stripeAccountHint) } : {}),
      },
    }),
    selectPaymentSettings(db, organizationId),
  ]);
  return toPaymentSettingsView(row);
}
