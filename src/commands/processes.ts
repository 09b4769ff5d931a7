import { sleep } from '../infrastructure/sleep.js';
import { admitWaitingTokens, type AdmissionDeps } from './admission.js';
import { expireHolds } from './hold-expiry.js';
import { PaymentRecovery } from './payment-recovery.js';

export interface ProcessesOptions {
  readonly admissionIntervalMs: number;
  readonly holdExpiryIntervalMs: number;
  readonly paymentRecoveryIntervalMs: number;
  readonly recoverPaymentsAfterMs: number;
  readonly log?: { error(error: unknown, message: string): void };
  readonly onAdmission?: (result: { admitted: number; expired: number }) => void;
}

/** The background processes that keep the domain moving; stop() waits for the current round. */
export function startProcesses(
  deps: AdmissionDeps,
  options: ProcessesOptions,
): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const recovery = new PaymentRecovery({
    ...deps,
    recoverAfterMs: options.recoverPaymentsAfterMs,
    ...(options.log ? { log: options.log } : {}),
  });
  // Rounds start on a fixed beat (every intervalMs from the first), not intervalMs after
  // the previous round ended: a round's own time does not stretch the period, so passes
  // turn over when their TTL says and the queue's estimates can count on the interval.
  // A round that runs over a beat waits for the next one, with no catch-up burst.
  const every = async (name: string, intervalMs: number, round: () => Promise<unknown>) => {
    let next = performance.now();
    while (!stopping.signal.aborted) {
      try {
        await round();
      } catch (error) {
        options.log?.error(error, `${name} round failed`);
      }
      const now = performance.now();
      next += intervalMs * Math.max(1, Math.ceil((now - next) / intervalMs));
      await sleep(next - now, stopping.signal);
    }
  };
  const loops = [
    every('admission', options.admissionIntervalMs, async () => {
      const result = await admitWaitingTokens(deps);
      if (result) options.onAdmission?.(result);
    }),
    every('hold expiry', options.holdExpiryIntervalMs, () => expireHolds(deps)),
    every('payment recovery', options.paymentRecoveryIntervalMs, () => recovery.run()),
  ];
  return {
    stop: async () => {
      stopping.abort();
      await Promise.all(loops);
    },
  };
}
