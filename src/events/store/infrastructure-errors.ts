import pg from 'pg';

/**
 * Infrastructure errors: the store or database could not be reached or dropped the
 * connection. They decide nothing (a command may or may not have committed), so they are
 * never a business outcome: the API answers 503 SERVICE_UNAVAILABLE with Retry-After and
 * background processes retry on their next round.
 */

/**
 * SQLSTATE classes: 08 connection exception, 57P operator intervention, 53300 too many
 * connections, 40001/40P01 serialization failure and deadlock, 55P03 a lock wait that
 * ran out (lock_timeout: the holder is busy, the waiter may retry).
 */
const transientSqlStates = /^(08|57P|53300|40001|40P01|55P03)/;
const systemCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  // A query written to a socket the server just closed: Node reports the write, not the loss.
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_SOCKET_CLOSED',
]);
/** node-postgres reports a lost connection as a plain Error; these messages are its only signal. */
const pgConnectionMessages = [
  'Connection terminated',
  'Client was closed and is not queryable',
  'Client has encountered a connection error and is not queryable',
  'timeout exceeded when trying to connect',
  'Connection terminated unexpectedly',
];
/** EventStoreDB client errors that mean "not reachable now". */
const esdbUnavailable = new Set(['UnavailableError', 'DeadlineExceededError', 'NotLeaderError']);

/**
 * Error-shaped, whatever realm made it: `instanceof Error` is false for Node's own socket
 * errors seen from a VM context (Jest), which once turned a `read ECONNRESET` into a 500.
 */
function isErrorLike(error: unknown): error is Error & { code?: unknown; errors?: unknown } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

export function isInfrastructureError(error: unknown): boolean {
  if (!isErrorLike(error)) return false;
  if (error instanceof pg.DatabaseError) return transientSqlStates.test(error.code ?? '');
  const code = error.code;
  if (typeof code === 'string' && systemCodes.has(code)) return true;
  if (esdbUnavailable.has(error.name) || error.name === 'InjectedConnectionError') return true;
  if (pgConnectionMessages.some((message) => error.message.startsWith(message))) return true;
  if (Array.isArray(error.errors) && error.errors.some(isInfrastructureError)) return true;
  // Libraries wrap the driver's error (a failed rollback after a dropped connection).
  return error.cause !== undefined && error.cause !== error && isInfrastructureError(error.cause);
}
