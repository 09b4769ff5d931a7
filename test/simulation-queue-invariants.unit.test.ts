import type { RecordedEvent } from '../src/events/store/port.js';
import { checkQueueInvariants } from '../sim/queue-invariants.js';

/** Invariant (g) of the simulation, on hand-written logs: it must catch each kind of breach. */
let position = 0;
const event = (streamName: string, type: string, data: Record<string, unknown>): RecordedEvent =>
  ({
    streamName,
    type,
    data,
    id: String(position),
    revision: 0,
    position: { commit: BigInt(++position), prepare: BigInt(position) },
    metadata: {},
    createdAt: new Date(0),
  }) as unknown as RecordedEvent;

const at = (second: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString();
const configured = (changes: Record<string, unknown> = {}) =>
  event('queue', 'QueueConfigured', {
    mode: 'open',
    maxActive: 2,
    admissionsPerMinute: null,
    opensAt: null,
    configuredAt: at(0),
    ...changes,
  });
const issued = (tokenId: string, second = 1) =>
  event(`token-${tokenId}`, 'TokenIssued', { tokenId, userId: tokenId, issuedAt: at(second) });
const admitted = (tokenId: string, second = 2) =>
  event(`token-${tokenId}`, 'TokenAdmitted', {
    tokenId,
    userId: tokenId,
    admittedAt: at(second),
    expiresAt: at(second + 50),
  });
const changed = (changes: Record<string, unknown>) =>
  event('queue', 'QueueSettingsChanged', { changes, changedAt: at(1) });

describe('simulation invariant (g): the queue, folded from the log', () => {
  it('accepts admissions in join order within the cap', () => {
    expect(
      checkQueueInvariants([configured(), issued('a'), issued('b'), admitted('a'), admitted('b')]),
    ).toEqual([]);
  });

  it('reports an admission over the cap, while paused, and out of join order', () => {
    const overCap = checkQueueInvariants([
      configured({ maxActive: 1 }),
      issued('a'),
      issued('b'),
      admitted('a'),
      admitted('b'),
    ]);
    expect(overCap).toEqual(['(g) b admitted with 1 passes live (cap 1)']);
    expect(
      checkQueueInvariants([configured(), changed({ mode: 'paused' }), issued('a'), admitted('a')]),
    ).toEqual(['(g) a admitted while paused']);
    expect(checkQueueInvariants([configured(), issued('a'), issued('b'), admitted('b')])).toEqual([
      '(g) b admitted before a, which is ahead of it',
    ]);
  });

  it('reports more admissions in 60 s than the rate', () => {
    expect(
      checkQueueInvariants([
        configured({ admissionsPerMinute: 1, maxActive: 5 }),
        issued('a'),
        issued('b'),
        admitted('a', 2),
        admitted('b', 30),
      ]),
    ).toEqual(['(g) b admitted as admission 2 in 60 s (rate 1)']);
  });

  it('checks that a draw places every waiting pre-queued token once, ahead of later joiners', () => {
    const prequeue = [
      configured({ opensAt: at(100) }),
      issued('a'),
      issued('b'),
      event('queue', 'QueueOpened', { round: 1, openedAt: at(100) }),
      issued('late', 101),
    ];
    expect(
      checkQueueInvariants([
        ...prequeue,
        event('queue', 'PrequeueDrawn', { round: 1, order: ['b', 'a'], drawnAt: at(101) }),
        admitted('b', 102),
        admitted('a', 102),
      ]),
    ).toEqual([]);
    expect(
      checkQueueInvariants([
        ...prequeue,
        event('queue', 'PrequeueDrawn', { round: 1, order: ['b', 'b'], drawnAt: at(101) }),
      ]),
    ).toEqual([
      '(g) round 1: a token is placed twice in the draw',
      '(g) round 1: waiting token a not placed',
    ]);
    expect(checkQueueInvariants([...prequeue, admitted('late', 102)])).toEqual([
      '(g) late admitted before a, which is ahead of it',
      '(g) late admitted before b, which is ahead of it',
    ]);
  });
});
