/**
 * The one table of error codes. It feeds the runtime error handler (status and title of every problem) and the
 * OpenAPI error responses that routes declare, so documented and thrown errors cannot drift apart.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_json: { status: 400, title: 'Malformed JSON body' },
  validation_failed: { status: 400, title: 'Validation failed' },
  query_too_complex: { status: 400, title: 'GraphQL operation too complex' },
  persisted_query_not_found: { status: 400, title: 'Persisted query not found' },
  invalid_passkey: { status: 400, title: 'Invalid passkey response' },
  unauthorized: { status: 401, title: 'Authentication required' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  reauthentication_required: { status: 401, title: 'Re-authentication required' },
  invalid_mfa_code: { status: 401, title: 'Invalid verification code' },
  mfa_challenge_invalid: { status: 401, title: 'Invalid or expired MFA challenge' },
  forbidden: { status: 403, title: 'Forbidden' },
  email_not_verified: { status: 403, title: 'Email address not verified' },
  mfa_enrollment_required: { status: 403, title: 'MFA enrolment required' },
  sso_required: { status: 403, title: 'Single sign-on required' },
  plan_limit: { status: 403, title: 'Plan limit reached' },
  feature_unavailable: { status: 403, title: 'Not in your plan' },
  live_key_required: { status: 403, title: 'Live API key required' },
  self_service_not_offered: { status: 403, title: 'Not offered to buyers' },
  impersonation_read_only: { status: 403, title: 'Read-only impersonation' },
  impersonation_forbidden: { status: 403, title: 'Not allowed while impersonating' },
  not_found: { status: 404, title: 'Not found' },
  organization_deletion_scheduled: { status: 404, title: 'Organization scheduled for deletion' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  sold_out: { status: 409, title: 'Sold out' },
  unpaid_hold_limit: { status: 409, title: 'Too many unpaid orders' },
  ticket_checked_in: { status: 409, title: 'Ticket already checked in' },
  transfers_disabled: { status: 409, title: 'Ticket transfers not allowed' },
  transfer_closed: { status: 409, title: 'Ticket transfers closed' },
  self_service_closed: { status: 409, title: 'Closed to buyers' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  domain_not_verified: { status: 422, title: 'Domain not verified' },
  unprocessable: { status: 422, title: 'Unprocessable request' },
  discount_code_invalid: { status: 422, title: 'Discount code not applicable' },
  rate_limited: { status: 429, title: 'Too many requests' },
  too_many_streams: { status: 429, title: 'Too many live streams' },
  internal_error: { status: 500, title: 'Internal server error' },
  misconfigured: { status: 500, title: 'Service misconfigured' },
  payment_provider_error: { status: 502, title: 'Payment provider error' },
  dns_provider_error: { status: 502, title: 'DNS provider error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  organization_read_only: { status: 503, title: 'Organization read-only' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorStatus = (typeof ERROR_CODES)[ErrorCode]['status'];

export const PROBLEM_TYPE_BASE = 'https://eventra.app/problems/';

export function problemType(code: ErrorCode): string {
  return `${PROBLEM_TYPE_BASE}${code.replaceAll('_', '-')}`;
}

export function codesForStatus(status: number): ErrorCode[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => ERROR_CODES[code].status === status);
}
