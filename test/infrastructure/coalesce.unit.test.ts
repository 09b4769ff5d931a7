import { coalesce } from '../../src/infrastructure/coalesce.js';

/** A flush that records each batch and finishes when the test says so. */
function gatedFlush() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const flush = async (inputs: readonly number[]) => {
    batches.push([...inputs]);
    await new Promise<void>((resolve) => gates.push(resolve));
    return inputs.map((input) => input * 10);
  };
  const openNext = async () => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()!();
  };
  return { batches, flush, openNext };
}

it('carries the calls of one tick in one flush, and those made during it in the next', async () => {
  const { batches, flush, openNext } = gatedFlush();
  const call = coalesce(flush);
  const first = [call(1), call(2)];
  await openNext();
  // The first flush was released: calls made now wait for a second one.
  const second = [call(3), call(4), call(5)];
  await expect(Promise.all(first)).resolves.toEqual([10, 20]);
  await openNext();
  await expect(Promise.all(second)).resolves.toEqual([30, 40, 50]);
  expect(batches).toEqual([[1, 2], [3, 4, 5]]);
});

it('never lets a call join a flush that started before it', async () => {
  const { batches, flush, openNext } = gatedFlush();
  const call = coalesce(flush);
  const early = call(1);
  await new Promise((resolve) => setImmediate(resolve)); // the flush of [1] is in flight
  const late = call(2);
  await openNext();
  await openNext();
  await expect(Promise.all([early, late])).resolves.toEqual([10, 20]);
  expect(batches).toEqual([[1], [2]]);
});

it('rejects every call of a failed flush, and tries the next flush afresh', async () => {
  let fail = true;
  const call = coalesce(async (inputs: readonly string[]) => {
    if (fail) throw new Error('connection lost');
    return inputs.map((input) => input.toUpperCase());
  });
  const failed = [call('a'), call('b')];
  for (const result of await Promise.allSettled(failed))
    expect(result).toMatchObject({ status: 'rejected', reason: { message: 'connection lost' } });
  fail = false;
  await expect(call('c')).resolves.toBe('C');
});

it('splits a long queue into flushes of at most maxBatch', async () => {
  const sizes: number[] = [];
  const call = coalesce(async (inputs: readonly number[]) => {
    sizes.push(inputs.length);
    return inputs;
  }, 2);
  await expect(Promise.all([1, 2, 3, 4, 5].map(call))).resolves.toEqual([1, 2, 3, 4, 5]);
  expect(sizes).toEqual([2, 2, 1]);
});
