/**
 * Group commit for round trips: calls made while a flush is in flight wait for the next
 * flush, which carries all of them in one statement. An idle caller's flush starts on the
 * next microtask (so calls of the same tick share it), never later: a lone caller pays no
 * delay, and under load the batch grows by itself to what arrived during one round trip.
 *
 * A queued call is always carried by a flush that starts after the call was made, so a
 * batched read is never older than the call asking for it (caches rely on that).
 * A failed flush rejects every call it carried; the next flush is tried afresh.
 */
export function coalesce<In, Out>(
  flush: (inputs: readonly In[]) => Promise<readonly Out[]>,
  maxBatch = 1000,
): (input: In) => Promise<Out> {
  let queued: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  let flushing = false;

  async function drain(): Promise<void> {
    flushing = true;
    try {
      while (queued.length > 0) {
        const batch = queued.slice(0, maxBatch);
        queued = queued.slice(batch.length);
        try {
          const outs = await flush(batch.map((call) => call.input));
          batch.forEach((call, index) => call.resolve(outs[index]!));
        } catch (error) {
          for (const call of batch) call.reject(error);
        }
      }
    } finally {
      flushing = false;
    }
  }

  return (input) =>
    new Promise<Out>((resolve, reject) => {
      queued.push({ input, resolve, reject });
      if (!flushing) {
        flushing = true;
        queueMicrotask(() => void drain());
      }
    });
}
