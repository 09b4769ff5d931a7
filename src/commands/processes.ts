import { sleep } from '../infrastructure/sleep.js';
import { queueLength } from '../queries/tokens.js';
import { admissionIsQuiet, admitWaitingTokens, type AdmissionDeps, type Quiet } from './admission.js';
import { expireHolds } from './hold-expiry.js';
import { PaymentRecovery } from './payment-recovery.js';

export interface ProcessesOptions {
  readonly admissionIntervalMs: number;
  readonly holdExpiryIntervalMs: number;
  readonly paymentRecoveryIntervalMs: number;
  readonly recoverPaymentsAfterMs: number;
  readonly log?: {
    error(error: unknown, message: string): void;
    info?(message: string, fields?: Record<string, unknown>): void;
  };
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
  let quiet: Quiet | undefined;
  const loops = [
    every('admission', options.admissionIntervalMs, async () => {
      if (quiet && (await admissionIsQuiet(deps, quiet))) return;
      quiet = undefined;
      // Counted before the round (one row), not after it: waiting for the read model to
      // apply the round's admissions just to log a count would delay the loop's next beat.
      const { waiting } = options.log?.info ? await queueLength(deps.db) : { waiting: 0 };
      const result = await admitWaitingTokens(deps);
      if (!result) return;
      quiet = result.quiet;
      options.onAdmission?.(result);
      // Rounds that changed nothing (most of them) stay quiet.
      if (result.admitted === 0 && result.expired === 0) return;
      // Waiting at the round's start less those it admitted (joins during the round not counted).
      const left = Math.max(0, waiting - result.admitted);
      options.log?.info?.(
        `admission: admitted ${result.admitted}, expired ${result.expired} pass(es), ${left} waiting`,
        { admitted: result.admitted, expired: result.expired, waiting: left },
      );
    }),
    every('hold expiry', options.holdExpiryIntervalMs, async () => {
      const released = await expireHolds(deps);
      if (released > 0)
        options.log?.info?.(`hold expiry: released ${released} expired hold(s)`, { released });
    }),
    every('payment recovery', options.paymentRecoveryIntervalMs, () => recovery.run()),
  ];
  return {
    stop: async () => {
      stopping.abort();
      await Promise.all(loops);
    },
  };
}
