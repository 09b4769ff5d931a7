import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { isInfrastructureError } from '../../../src/events/store/infrastructure-errors.js';
import { DomainError } from '../../../src/commands/errors.js';

describe('what counts as an infrastructure error (503, never a business outcome)', () => {
  it('recognises dropped connections, refused connects and operator terminations', () => {
    expect(isInfrastructureError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isInfrastructureError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(
      true,
    );
    const terminated = new pg.DatabaseError('terminating connection', 0, 'error');
    terminated.code = '57P01';
    expect(isInfrastructureError(terminated)).toBe(true);
    const lockWait = new pg.DatabaseError('canceling statement due to lock timeout', 0, 'error');
    lockWait.code = '55P03';
    expect(isInfrastructureError(lockWait)).toBe(true);
  });

  it('recognises a query written to a connection the server already closed', () => {
    for (const code of ['ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_SOCKET_CLOSED'])
      expect(isInfrastructureError(Object.assign(new Error('write after end'), { code }))).toBe(
        true,
      );
  });

  it("recognises an error made in another realm (Node's own socket errors under Jest's VM)", () => {
    // Seen in the database-outage test: `read ECONNRESET` from pg-pool, a 500 instead of 503,
    // because the error's class was not this realm's Error.
    const foreign = runInNewContext(
      'Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104 })',
    ) as unknown;
    expect(foreign instanceof Error).toBe(false);
    expect(isInfrastructureError(foreign)).toBe(true);
    const foreignTerminated: unknown = runInNewContext(
      'new Error("Connection terminated unexpectedly")',
    );
    expect(isInfrastructureError(foreignTerminated)).toBe(true);
  });

  it('looks through a wrapping error to its cause', () => {
    const wrapped = new Error('rollback failed', {
      cause: new Error('Client has encountered a connection error and is not queryable'),
    });
    expect(isInfrastructureError(wrapped)).toBe(true);
  });

  it('never takes a decided outcome or a constraint violation for one', () => {
    expect(isInfrastructureError(new DomainError('SEAT_NOT_AVAILABLE', 'held'))).toBe(false);
    const unique = new pg.DatabaseError('duplicate key', 0, 'error');
    unique.code = '23505';
    expect(isInfrastructureError(unique)).toBe(false);
    expect(isInfrastructureError(new Error('boom', { cause: new Error('still boom') }))).toBe(
      false,
    );
  });
});
