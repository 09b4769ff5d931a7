/**
 * A failure an operator fixes (a port in use, an unreachable or locked data directory,
 * bad configuration): the entry points print its one-line message and exit with its code,
 * never a stack trace. Exit codes are documented in README.md (Troubleshooting).
 */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Exit codes of `npm start` and the CLI besides 0 (ok) and 1 (unexpected failure). */
export const exitCodes = {
  usage: 2,
  config: 3,
  portInUse: 4,
  dataDir: 5,
  /** Another process is doing the same work (a rebuild of the same projection). */
  busy: 6,
} as const;
