/**
 * The closed set of business and request errors, with the stable codes of api.md.
 * The HTTP status of each code is decided once, in src/api/problem-details.ts.
 */
export const errorCodes = [
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'TOKEN_INVALID',
  'TOKEN_NOT_ACTIVE',
  'TOKEN_EXPIRED',
  'ADMIN_KEY_INVALID',
  'AUTH_INVALID',
  'USER_MISMATCH',
  'AUTH_UNAVAILABLE',
  'RATE_LIMITED',
  'SEAT_NOT_AVAILABLE',
  'RESERVATION_NOT_OPEN',
  'INSUFFICIENT_BALANCE',
  'SEAT_NOT_HELD_BY_USER',
  'HOLD_EXPIRED',
  'ALREADY_PAID',
  'PAYMENT_IN_PROGRESS',
  'PAYMENT_ABORTED',
  'IDEMPOTENCY_KEY_REUSED',
  'CONCURRENCY_CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'URI_TOO_LONG',
  'UNSUPPORTED_MEDIA_TYPE',
  'INTERNAL_ERROR',
  'SERVICE_UNAVAILABLE',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the problem+json body, e.g. `position` for a waiting token. */
    readonly context: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export const isDomainError = (error: unknown, code?: ErrorCode): error is DomainError =>
  error instanceof DomainError && (code === undefined || error.code === code);
