import { ERROR_CODES, type ErrorCode } from './codes.ts';

/** One field-level validation message: an RFC 6901 JSON pointer into the request and what is wrong there. */
export interface FieldError {
  pointer: string;
  message: string;
}

export interface ApiErrorOptions {
  detail?: string;
  errors?: FieldError[];
  /** Extra response headers, e.g. `Retry-After` or `Allow`. */
  headers?: Record<string, string>;
  /** Extra problem members (RFC 9457 extensions), e.g. `checks` on readiness failures. */
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type that services and middleware throw; `app.onError` turns it into a problem response. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    super(options.detail ?? ERROR_CODES[code].title, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}
