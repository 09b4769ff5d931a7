/**
 * Every retry count and background interval, each with the reason for its number.
 *
 * A command retry (handle-command.ts) re-reads its stream and decides again after another
 * writer appended first; deciders are pure, so this is always safe. How many times is a
 * question of who else writes the stream and what giving up means for the caller.
 */
export const commandRetries = {
  /**
   * Buyers racing for one seat: after losing once, the re-read shows the winner's hold
   * and the decider answers SEAT_NOT_AVAILABLE. A second retry covers a hold expiring in
   * the same instant; beyond that the caller gets CONCURRENCY_CONFLICT quickly rather
   * than wait behind a crowd (200 concurrent holds are tested).
   */
  holdSeat: 2,
  /**
   * A charge is never refused by another charge, so every conflict is worth retrying;
   * 200 covers a burst of one user's concurrent charges (100 are tested, none lost).
   */
  charge: 200,
  /**
   * A new seat stream's only other writer is a retry of the same scheduling command,
   * appending the same event id: one more read finds it done.
   */
  createSeat: 1,
  /** The concert stream likewise: its only other writer is the same command run at once. */
  scheduleConcert: 1,
  /** A user's token stream: only that user's own parallel requests and admission race. */
  issueToken: 5,
  /**
   * Admission and token expiry race only with the token's user. A token still
   * contended after 3 tries is left for the next admission round.
   */
  admission: 3,
  /** Locking the seat for a payment: as holdSeat, the re-read gives the real answer. */
  startSeatPayment: 2,
  /**
   * Debit and refund: money must move once the seat is locked (or back once the seat is
   * lost), and only charges contend a wallet; 50 outlasts a burst of them.
   */
  debit: 50,
  refund: 50,
  /** The seat's other writers (hold expiry, recovery) stop once it is paying: few conflicts. */
  seatPaymentOutcome: 5,
  /** Expiring the token after payment races with admission rounds and the user's requests. */
  expireTokenAfterPayment: 20,
  /** The payment stream: only this payment and recovery write it; the first outcome wins. */
  finishPayment: 5,
  /** Revoking a token races only with that user's own requests and admission rounds. */
  revokeToken: 5,
  /**
   * The queue stream: its writers are an operator's settings change, the opening and the
   * draw; one of each at a time, and a lost race re-decides (the draw then does nothing).
   */
  queue: 5,
} as const;

/**
 * How long an operator's queue settings change waits for a running admission round to end
 * (settings change only between rounds): a round waits up to 10 s for the tokens read
 * model and then admits at most 1,000 tokens; past this the change answers 503, retryable.
 */
export const settingsLockWaitMs = 20_000;

/**
 * How many pending payments one recovery pass takes on, oldest first: bounds a pass's
 * length after a mass crash; the rest wait for the next pass.
 */
export const paymentRecoveryBatch = 200;

/**
 * Scheduling a concert writes every seat stream and then the concert, each event id derived
 * from the command id: a whole attempt that failed on an infrastructure error is repeated
 * (the ids make a repeat finish the concert, never duplicate it). Three attempts ride out a
 * dropped connection or a restarting server; a longer outage reaches the operator.
 */
export const scheduleConcertAttempts = 3;

/**
 * Seat streams written at once while scheduling: enough to hide round trips for a
 * 50,000-seat venue, few enough to leave pool connections for buyers.
 */
export const scheduleSeatWriteConcurrency = 16;

/** Upper bound of the random pause between command retries, in ms: spreads writers apart. */
export const retryJitterCapMs = 20;

export const intervals = {
  /**
   * How often recovery looks for payments a crash left pending. A stranded payment holds
   * its seat, so seconds matter; each round reads the pending ones from the payments
   * read model (its payments_pending index).
   */
  paymentRecoveryMs: 10_000,
  /** A stand-by process asks for projection leadership this often; a lapse costs that much lag. */
  leadershipAttemptMs: 1000,
  /** A failing projection retries from its checkpoint after this pause, not in a tight loop. */
  projectionRetryMs: 1000,
  /** A follower reads persisted checkpoints this often while a read-your-writes wait is open. */
  followCheckpointsMs: 10,
} as const;
