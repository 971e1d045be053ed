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
  | 'saml_metadata_invalid'
  | 'saml_metadata_unreachable';

export class SamlError extends Error {
  readonly code: SamlErrorCode;

  constructor(code: SamlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SamlError';
    this.code = code;
  }
}

/**
 * What a method of the SAML Worker (src/workers/saml.ts) answers over RPC. RPC carries a thrown error's message but
 * not its own fields, so a refusal travels as a value and consumeSamlResponse's side throws the SamlError again.
 */
export type SamlOutcome<T> = { ok: true; value: T } | { ok: false; code: SamlErrorCode; message: string };

/** Runs `work`, answering its SamlError as a refusal; any other error is thrown (a fault, not a verdict). */
export async function samlOutcome<T>(work: () => T | Promise<T>): Promise<SamlOutcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (error instanceof SamlError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}
