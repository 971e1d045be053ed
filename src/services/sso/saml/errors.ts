/**
 * Why a SAML message was refused. Every refusal has its own code so the tests (and the logs) tell the attacks
 * apart; the ACS route maps them all to one 401 problem for the browser (the detail names the code, never the
 * assertion's content).
 */
export type SamlErrorCode =
  | 'saml_response_too_large'
  | 'saml_response_malformed'
  | 'saml_xml_dtd_refused'
  | 'saml_xml_comment_refused'
  | 'saml_unsigned'
  | 'saml_signature_invalid'
  | 'saml_multiple_assertions'
  | 'saml_issuer_mismatch'
  | 'saml_audience_mismatch'
  | 'saml_recipient_mismatch'
  | 'saml_destination_mismatch'
  | 'saml_not_yet_valid'
  | 'saml_expired'
  | 'saml_status_error'
  | 'saml_in_response_to_mismatch'
  | 'saml_in_response_to_unknown'
  | 'saml_idp_initiated_refused'
  | 'saml_assertion_replayed'
  | 'saml_subject_missing'
  | 'saml_relay_state_refused'
  | 'saml_metadata_invalid';

export class SamlError extends Error {
  readonly code: SamlErrorCode;

  constructor(code: SamlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SamlError';
    this.code = code;
  }
}

/** A SamlError as plain data: how the SAML Worker (src/workers/saml.ts) refuses over RPC (Outcome). */
export interface SamlRefusal {
  code: SamlErrorCode;
  message: string;
}

/** The refusal of a SamlError, undefined for any other error (a fault). */
export function samlRefusal(error: unknown): SamlRefusal | undefined {
  return error instanceof SamlError ? { code: error.code, message: error.message } : undefined;
}
