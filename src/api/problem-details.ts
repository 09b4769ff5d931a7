import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, type ErrorCode } from '../commands/errors.js';
import { isInfrastructureError } from '../events/store/infrastructure-errors.js';
import { securityHeaders } from './security-headers.js';

/** The security headers as raw header lines, for the answers written to the socket. */
const securityHeaderLines = Object.entries(securityHeaders)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/** Seconds a client should wait before retrying after a 503 (the database was unreachable). */
const retryAfterSeconds = 2;

/** The one place where an error code becomes an HTTP status. */
export const statusOf: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  TOKEN_INVALID: 401,
  ADMIN_KEY_INVALID: 401,
  AUTH_INVALID: 401,
  USER_MISMATCH: 403,
  TOKEN_NOT_ACTIVE: 403,
  TOKEN_EXPIRED: 403,
  NOT_FOUND: 404,
  SEAT_NOT_AVAILABLE: 409,
  RESERVATION_NOT_OPEN: 409,
  INSUFFICIENT_BALANCE: 409,
  SEAT_NOT_HELD_BY_USER: 409,
  HOLD_EXPIRED: 409,
  ALREADY_PAID: 409,
  PAYMENT_IN_PROGRESS: 409,
  PAYMENT_ABORTED: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  CONCURRENCY_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  AUTH_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
};

const titleOf = (code: ErrorCode) =>
  code
    .toLowerCase()
    .split('_')
    .map((word, index) => (index === 0 ? word[0]!.toUpperCase() + word.slice(1) : word))
    .join(' ');

export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  detail: string,
  context: Record<string, unknown> = {},
) {
  const status = statusOf[code];
  // The headers RFC 6750 and RFC 9110 ask for, so clients can react without parsing the body.
  if (code === 'AUTH_INVALID') reply.header('www-authenticate', 'Bearer');
  if (typeof context.retryAfterSeconds === 'number')
    reply.header('retry-after', String(context.retryAfterSeconds));
  else if (code === 'SERVICE_UNAVAILABLE') reply.header('retry-after', String(retryAfterSeconds));
  return reply
    .status(status)
    .type('application/problem+json')
    .send({
      type: `/problems/${code.toLowerCase().replace(/_/g, '-')}`,
      title: titleOf(code),
      status,
      detail,
      code,
      ...context,
    });
}

/**
 * Node's own refusals, before a request reaches Fastify (headers past Node's 16 KB, a
 * malformed request line or header, a request that did not arrive in time): a
 * problem+json `VALIDATION_FAILED` 400 like any other bad input, then the connection is
 * closed (Node cannot read past such a request). Fastify's default answers plain JSON.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const detail =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'the request headers are larger than the server accepts (16 KB)'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'the request did not arrive in time'
        : 'the request is not valid HTTP/1.1';
  const code: ErrorCode = 'VALIDATION_FAILED';
  const body = JSON.stringify({
    type: `/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: titleOf(code),
    status: statusOf[code],
    detail,
    code,
  });
  socket.end(
    `HTTP/1.1 ${statusOf[code]} Bad Request\r\ncontent-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${securityHeaderLines}connection: close\r\n\r\n${body}`,
  );
}

/** Maps Fastify's own request errors (parsing, size, media type) onto our codes. */
function requestErrorCode(error: FastifyError): ErrorCode | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'PAYLOAD_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'UNSUPPORTED_MEDIA_TYPE';
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? 'VALIDATION_FAILED'
        : undefined;
  }
}

/**
 * Fastify's own routing errors, raised before any route or error handler runs (its
 * `frameworkErrors` option): without this they get Fastify's application/json body.
 */
export function frameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // Sent before routing, so before the hook that adds them to every other answer.
  reply.headers(securityHeaders);
  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      void sendProblem(reply, 'URI_TOO_LONG', 'a path parameter is longer than 100 characters');
      return;
    case 'FST_ERR_BAD_URL':
      void sendProblem(reply, 'VALIDATION_FAILED', 'the URL is malformed');
      return;
    default:
      request.log.error({ err: error }, 'framework error');
      void sendProblem(reply, 'INTERNAL_ERROR', `something went wrong; request id ${request.id}`);
  }
}

/** Renders every error as RFC 9457 problem+json; 5xx details stay in the log. */
export function registerProblemDetails(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError)
      return sendProblem(reply, error.code, error.message, { ...error.context });
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation as readonly { instancePath: string; message?: string }[];
      const errors = issues.map((issue) => ({
        field: `${error.validationContext ?? 'body'}${issue.instancePath.replace(/\//g, '.')}`,
        message: issue.message ?? 'is invalid',
      }));
      const summary = errors.map((item) => `${item.field}: ${item.message}`).join('; ');
      return sendProblem(reply, 'VALIDATION_FAILED', summary, { errors });
    }
    const code = requestErrorCode(error);
    if (code) return sendProblem(reply, code, error.message);
    if (isInfrastructureError(error)) {
      // Nothing was decided: the client may retry (with its Idempotency-Key for payments).
      request.log.warn({ err: error }, 'database unavailable');
      return sendProblem(
        reply,
        'SERVICE_UNAVAILABLE',
        `the database is unavailable; retry after ${retryAfterSeconds} s (request id ${request.id})`,
      );
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, 'INTERNAL_ERROR', `something went wrong; request id ${request.id}`);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 'NOT_FOUND', `no route ${request.method} ${request.url}`),
  );
}
