import { decideToken, type TokenCommand } from '../../src/deciders/token.js';
import { tokenKind, type TokenEvent, type TokenState } from '../../src/events/token.js';
import { deciderSpec } from '../support/decider.js';

const token = deciderSpec(tokenKind);
const decideIssueToken = (
  data: Extract<TokenCommand, { type: 'IssueToken' }>['data'],
  state: TokenState,
) => decideToken({ type: 'IssueToken', data }, state);
const decideAdmitToken = (
  data: Extract<TokenCommand, { type: 'AdmitToken' }>['data'],
  state: TokenState,
) => decideToken({ type: 'AdmitToken', data }, state);
const decideExpireToken = (
  data: Extract<TokenCommand, { type: 'ExpireToken' }>['data'],
  state: TokenState,
) => decideToken({ type: 'ExpireToken', data }, state);
const decideExpireTokenAfterPayment = (
  data: Extract<TokenCommand, { type: 'ExpireTokenAfterPayment' }>['data'],
  state: TokenState,
) => decideToken({ type: 'ExpireTokenAfterPayment', data }, state);
const decideRevokeToken = (
  data: Extract<TokenCommand, { type: 'RevokeToken' }>['data'],
  state: TokenState,
) => decideToken({ type: 'RevokeToken', data }, state);
const t0 = '2030-01-02T00:00:00.000Z';
const issued = (tokenId = 'tk1', at = t0): TokenEvent => ({
  type: 'TokenIssued',
  data: { tokenId, userId: 'alice', issuedAt: at },
});
const admitted: TokenEvent = {
  type: 'TokenAdmitted',
  data: {
    tokenId: 'tk1',
    userId: 'alice',
    admittedAt: '2030-01-02T00:01:00.000Z',
    expiresAt: '2030-01-02T00:11:00.000Z',
  },
};

describe('issuing a queue token', () => {
  it('issues a first token', () => {
    token
      .given([])
      .when((state) => decideIssueToken({ userId: 'alice', tokenId: 'tk1', now: t0 }, state))
      .then([issued()]);
  });

  it('gives back a waiting or admitted token instead of a new one', () => {
    token
      .given([issued()])
      .when((state) => decideIssueToken({ userId: 'alice', tokenId: 'tk2', now: t0 }, state))
      .then([]);
    token
      .given([issued(), admitted])
      .when((state) =>
        decideIssueToken(
          { userId: 'alice', tokenId: 'tk2', now: '2030-01-02T00:05:00.000Z' },
          state,
        ),
      )
      .then([]);
  });

  it('expires a pass past its time and issues a new token at the back', () => {
    const later = '2030-01-02T00:12:00.000Z';
    token
      .given([issued(), admitted])
      .when((state) => decideIssueToken({ userId: 'alice', tokenId: 'tk2', now: later }, state))
      .then([
        {
          type: 'TokenExpired',
          data: {
            tokenId: 'tk1',
            userId: 'alice',
            reason: 'ttl',
            expiredAt: '2030-01-02T00:11:00.000Z',
          },
        },
        issued('tk2', later),
      ]);
  });

  it('issues a new token after an expired one', () => {
    const expired: TokenEvent = {
      type: 'TokenExpired',
      data: {
        tokenId: 'tk1',
        userId: 'alice',
        reason: 'payment',
        expiredAt: '2030-01-02T00:02:00.000Z',
      },
    };
    token
      .given([issued(), admitted, expired])
      .when((state) =>
        decideIssueToken(
          { userId: 'alice', tokenId: 'tk2', now: '2030-01-02T00:03:00.000Z' },
          state,
        ),
      )
      .then([issued('tk2', '2030-01-02T00:03:00.000Z')]);
  });
});

describe('admission and expiry', () => {
  it('admits a waiting token for the token time', () => {
    token
      .given([issued()])
      .when((state) =>
        decideAdmitToken(
          { tokenId: 'tk1', now: '2030-01-02T00:01:00.000Z', ttlSeconds: 600 },
          state,
        ),
      )
      .then([admitted]);
  });

  it('admits a token only once, and only the current one', () => {
    token
      .given([issued(), admitted])
      .when((state) => decideAdmitToken({ tokenId: 'tk1', now: t0, ttlSeconds: 600 }, state))
      .then([]);
    token
      .given([issued()])
      .when((state) => decideAdmitToken({ tokenId: 'other', now: t0, ttlSeconds: 600 }, state))
      .then([]);
  });

  it('expires a pass only once its time is up', () => {
    token
      .given([issued(), admitted])
      .when((state) =>
        decideExpireToken({ tokenId: 'tk1', now: '2030-01-02T00:10:59.000Z' }, state),
      )
      .then([]);
    token
      .given([issued(), admitted])
      .when((state) =>
        decideExpireToken({ tokenId: 'tk1', now: '2030-01-02T00:11:00.000Z' }, state),
      )
      .then([
        {
          type: 'TokenExpired',
          data: {
            tokenId: 'tk1',
            userId: 'alice',
            reason: 'ttl',
            expiredAt: '2030-01-02T00:11:00.000Z',
          },
        },
      ]);
  });

  it('expires the paying token at once after a payment', () => {
    token
      .given([issued(), admitted])
      .when((state) =>
        decideExpireTokenAfterPayment({ tokenId: 'tk1', now: '2030-01-02T00:02:00.000Z' }, state),
      )
      .then([
        {
          type: 'TokenExpired',
          data: {
            tokenId: 'tk1',
            userId: 'alice',
            reason: 'payment',
            expiredAt: '2030-01-02T00:02:00.000Z',
          },
        },
      ]);
  });
});

describe('expiring after a payment, and revoking', () => {
  const expiredBy = (reason: 'payment' | 'revoked', at: string, note?: string): TokenEvent => ({
    type: 'TokenExpired',
    data: { tokenId: 'tk1', userId: 'alice', reason, expiredAt: at, ...(note ? { note } : {}) },
  });

  it('expires a waiting token after a payment too, but not another or an expired one', () => {
    token
      .given([issued()])
      .when((state) => decideExpireTokenAfterPayment({ tokenId: 'tk1', now: t0 }, state))
      .then([expiredBy('payment', t0)]);
    token
      .given([issued()])
      .when((state) => decideExpireTokenAfterPayment({ tokenId: 'other', now: t0 }, state))
      .then([]);
    token
      .given([issued(), expiredBy('payment', t0)])
      .when((state) => decideExpireTokenAfterPayment({ tokenId: 'tk1', now: t0 }, state))
      .then([]);
  });

  it('revokes a waiting or admitted token at once, with the note', () => {
    const at = '2030-01-02T00:02:00.000Z';
    token
      .given([issued()])
      .when((state) => decideRevokeToken({ userId: 'alice', now: at }, state))
      .then([expiredBy('revoked', at)]);
    token
      .given([issued(), admitted])
      .when((state) => decideRevokeToken({ userId: 'alice', note: 'abuse', now: at }, state))
      .then([expiredBy('revoked', at, 'abuse')]);
  });

  it('refuses to revoke when the user has no live token', () => {
    token
      .given([])
      .when((state) => decideRevokeToken({ userId: 'alice', now: t0 }, state))
      .thenFails('NOT_FOUND');
    token
      .given([issued(), expiredBy('payment', t0)])
      .when((state) => decideRevokeToken({ userId: 'alice', now: t0 }, state))
      .thenFails('NOT_FOUND');
    // A pass past its time is no longer live, even before the admission round expires it.
    token
      .given([issued(), admitted])
      .when((state) =>
        decideRevokeToken({ userId: 'alice', now: '2030-01-02T00:11:00.000Z' }, state),
      )
      .thenFails('NOT_FOUND');
  });
});
