import { EventStoreDBClient } from '@eventstore/db-client';
import { z } from 'zod';

const integer = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(fallback);

const optionalUrl = (protocols: RegExp) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || protocols.test(value), {
      error: `must be a URL starting with ${protocols.source.replace(/[\^\\()|]/g, ' ').trim()}`,
    });

const eventStoreSchemes = /^(esdb|esdb\+discover):\/\//;

/** What the EventStoreDB client says about a connection string, or undefined if it takes it. */
function eventStoreUrlProblem(url: string): string | undefined {
  try {
    // Parsing only: the client connects on its first call, which never comes here.
    void EventStoreDBClient.connectionString(url)
      .dispose()
      .catch(() => undefined);
    return undefined;
  } catch (error) {
    return `not a connection string the EventStoreDB client accepts (${error instanceof Error ? error.message : String(error)})`;
  }
}

const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: integer(3000, 0, 65535),
  DATABASE_URL: optionalUrl(/^(postgres|postgresql):\/\//),
  // Only the schemes the installed v6 client parses: anything else would throw at start-up.
  EVENTSTORE_URL: optionalUrl(eventStoreSchemes).superRefine((value, context) => {
    const problem =
      value !== undefined && eventStoreSchemes.test(value) ? eventStoreUrlProblem(value) : undefined;
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  DATA_DIR: z.string().min(1).default('./.data'),
  EMBEDDED_PG_PORT: integer(54329, 1, 65535),
  ADMIN_API_KEY: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  MAX_ACTIVE_TOKENS: integer(100, 1, 1_000_000),
  TOKEN_TTL_SECONDS: integer(600, 1, 86_400),
  SEAT_HOLD_TTL_SECONDS: integer(300, 1, 86_400),
  ADMISSION_INTERVAL_MS: integer(1000, 10, 3_600_000),
  HOLD_EXPIRY_INTERVAL_MS: integer(1000, 10, 3_600_000),
  MAX_CHARGE_AMOUNT: integer(10_000_000, 1, Number.MAX_SAFE_INTEGER),
  PAYMENT_RECOVERY_AFTER_SECONDS: integer(30, 0, 86_400),
  READ_YOUR_WRITES_TIMEOUT_MS: integer(5000, 0, 60_000),
  DB_POOL_SIZE: integer(20, 2, 500),
  // Unset: seed only the embedded database (a newcomer's first run); `true` also seeds an
  // external store (DATABASE_URL, EVENTSTORE_URL) that has no concert yet; `false` never.
  DEMO_SEED: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .optional()
    .transform((value) => (value === undefined ? undefined : value === 'true' || value === '1')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof environmentSchema>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment once; every other module receives the frozen result. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const result = environmentSchema.safeParse(environment);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) =>
        `  ${issue.path.join('.')}=${JSON.stringify(environment[String(issue.path[0])])}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  if (result.data.NODE_ENV === 'production' && result.data.ADMIN_API_KEY === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  ADMIN_API_KEY: required when NODE_ENV=production',
    );
  }
  return Object.freeze(result.data);
}
