import { parsePayload } from '../../../src/events/store/postgres/notifier.js';

it("reads a peer's position, skips its own, and still reads a bare position from an older peer", () => {
  expect(parsePayload('12/3;peer-a', 'self')).toEqual({ commit: 12n, prepare: 3n });
  expect(parsePayload('12/3;self', 'self')).toBeUndefined();
  expect(parsePayload('12/3', 'self')).toEqual({ commit: 12n, prepare: 3n });
  expect(parsePayload('garbage;peer', 'self')).toBeUndefined();
});
