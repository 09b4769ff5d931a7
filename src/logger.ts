import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import type { Logger as SystemLogger } from './system.js';

/** The system's logger (processes, projections, the embedded database) on a pino logger. */
export function systemLogger(logger: Logger): SystemLogger {
  return {
    info: (message, fields) => logger.info(fields ?? {}, message),
    error: (error, message) => logger.error({ err: error }, message),
  };
}

/**
 * JSON lines with ISO times for machines (production, or output not to a terminal);
 * pino's own prettifier, one line per entry, for a person at a terminal.
 */
export async function createLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>,
  tty = Boolean(process.stdout.isTTY),
): Promise<Logger> {
  const options = { level: config.LOG_LEVEL, timestamp: pino.stdTimeFunctions.isoTime };
  if (!tty || config.NODE_ENV === 'production') return pino(options);
  const { default: pretty } = await import('pino-pretty');
  // Synchronous: the last lines before an exit are never lost.
  return pino(
    options,
    pretty({
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,reqId,method,url,status,ms',
    }),
  );
}
