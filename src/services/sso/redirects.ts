import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { fieldError } from '../events/shared.ts';

/**
 * Where the app may have the browser sent after sign-in: an absolute http(s) URL without fragment or credentials on
 * this organization's own origin or one of its `settings.allowedOrigins` (the CORS allow-list, managed with
 * PATCH /api/v1/organization); https outside the local environment. Anything else is an open redirect.
 */
export function redirectAllowed(ctx: ServiceContext, redirectUri: string): boolean {
  const tenant = requireTenant(ctx);
  const url = URL.parse(redirectUri);
  const configured = tenant.settings.allowedOrigins;
  const allowed = [...(Array.isArray(configured) ? configured : []), ...(ctx.origin === null ? [] : [ctx.origin])];
  return (
    url !== null &&
    (url.protocol === 'https:' || (url.protocol === 'http:' && ctx.bindings.ENVIRONMENT === 'local')) &&
    url.username === '' &&
    url.password === '' &&
    url.hash === '' &&
    allowed.includes(url.origin)
  );
}

/** redirectAllowed, or a 400 naming the field. */
export function assertRedirectAllowed(ctx: ServiceContext, redirectUri: string, pointer: string): void {
  if (redirectAllowed(ctx, redirectUri)) return;
  throw fieldError(
    pointer,
    "Must be an https URL without fragment on this organization's origin or one of its settings.allowedOrigins.",
  );
}
