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

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

/** `https://a.example,http://localhost:5173`: exact origins, no paths, no wildcards. */
const origins = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  )
  .refine((list) => list.every((origin) => /^https?:\/\/[^/\s*]+$/.test(origin)), {
    error: 'must be a comma-separated list of origins like https://app.example.com',
  });

const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: integer(3000, 0, 65535),
  DATABASE_URL: optionalUrl(/^(postgres|postgresql):\/\//),
  // Only the schemes the installed v6 client parses: anything else would throw at start-up.
  EVENTSTORE_URL: optionalUrl(eventStoreSchemes).superRefine((value, context) => {
    const problem =
      value !== undefined && eventStoreSchemes.test(value)
        ? eventStoreUrlProblem(value)
        : undefined;
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  // Unset means ./.data, which may move (see startEmbeddedPostgres's relocateIfUnreachable).
  DATA_DIR: z.string().min(1).optional(),
  EMBEDDED_PG_PORT: integer(54329, 1, 65535),
  ADMIN_API_KEY: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  MAX_ACTIVE_TOKENS: integer(100, 1, 1_000_000),
  TOKEN_TTL_SECONDS: integer(600, 1, 86_400),
  /** First value only: the stream `queue` holds the live setting (PATCH /admin/queue). */
  QUEUE_ADMISSIONS_PER_MINUTE: z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .optional(),
  /** First value only: a future time starts with a pre-queue. */
  QUEUE_OPENS_AT: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time' }).optional(),
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
  AUTH_JWKS_URL: optionalUrl(/^(https|http):\/\//),
  /** The least time between two key set fetches caused by tokens naming an unknown `kid`. */
  AUTH_JWKS_COOLDOWN_SECONDS: integer(30, 0, 3600),
  AUTH_JWT_SECRET: optionalText.refine((value) => value === undefined || value.length >= 32, {
    error: 'must be at least 32 characters (HS256 needs 256 bits)',
  }),
  AUTH_ISSUER: optionalText,
  AUTH_AUDIENCE: optionalText,
  AUTH_MODE: z.enum(['insecure-demo'], { error: 'must be insecure-demo or unset' }).optional(),
  JOIN_RATE_LIMIT_PER_MINUTE: integer(30, 1, 1_000_000),
  CORS_ORIGINS: origins,
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
        `${issue.path.join('.')}=${JSON.stringify(environment[String(issue.path[0])])} ${issue.message}`,
    );
    // One line: operators read it in a terminal or a log collector alike.
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const problems = crossFieldProblems(result.data);
  if (problems.length > 0)
    throw new ConfigError(
      `invalid configuration: ${problems.join('; ')}`,
    );
  return Object.freeze(result.data);
}

/** Settings that are each valid alone but not together; one line per problem. */
function crossFieldProblems(config: z.infer<typeof environmentSchema>): string[] {
  const problems: string[] = [];
  const production = config.NODE_ENV === 'production';
  if (production && config.ADMIN_API_KEY === undefined)
    problems.push('ADMIN_API_KEY: required when NODE_ENV=production');
  const keySources = [config.AUTH_JWKS_URL, config.AUTH_JWT_SECRET].filter(Boolean).length;
  if (keySources === 2)
    problems.push('AUTH_JWKS_URL and AUTH_JWT_SECRET: set one key source, not both');
  if (keySources > 0) {
    if (config.AUTH_ISSUER === undefined)
      problems.push('AUTH_ISSUER: required with AUTH_JWKS_URL or AUTH_JWT_SECRET');
    if (config.AUTH_AUDIENCE === undefined)
      problems.push('AUTH_AUDIENCE: required with AUTH_JWKS_URL or AUTH_JWT_SECRET');
    if (config.AUTH_MODE === 'insecure-demo')
      problems.push(
        'AUTH_MODE=insecure-demo: contradicts the configured AUTH_JWKS_URL/AUTH_JWT_SECRET',
      );
  } else {
    if (config.AUTH_ISSUER !== undefined || config.AUTH_AUDIENCE !== undefined)
      problems.push(
        'AUTH_ISSUER/AUTH_AUDIENCE: set, but neither AUTH_JWKS_URL nor AUTH_JWT_SECRET is',
      );
    else if (production && config.AUTH_MODE !== 'insecure-demo')
      problems.push(
        'AUTH_JWKS_URL or AUTH_JWT_SECRET: required when NODE_ENV=production (or AUTH_MODE=insecure-demo to let anyone act as any user)',
      );
  }
  return problems;
}

/** Where the caller's identity comes from: a verified JWT, or (demo) the request body. */
export type IdentitySource =
  | {
      readonly kind: 'jwks';
      readonly jwksUrl: string;
      readonly cooldownSeconds: number;
      readonly issuer: string;
      readonly audience: string;
    }
  | {
      readonly kind: 'secret';
      readonly secret: string;
      readonly issuer: string;
      readonly audience: string;
    }
  | { readonly kind: 'demo' };

export function identitySource(config: Config): IdentitySource {
  const { AUTH_JWKS_URL, AUTH_JWT_SECRET, AUTH_ISSUER, AUTH_AUDIENCE } = config;
  if (AUTH_ISSUER === undefined || AUTH_AUDIENCE === undefined) return { kind: 'demo' };
  if (AUTH_JWKS_URL)
    return {
      kind: 'jwks',
      jwksUrl: AUTH_JWKS_URL,
      cooldownSeconds: config.AUTH_JWKS_COOLDOWN_SECONDS,
      issuer: AUTH_ISSUER,
      audience: AUTH_AUDIENCE,
    };
  if (AUTH_JWT_SECRET)
    return {
      kind: 'secret',
      secret: AUTH_JWT_SECRET,
      issuer: AUTH_ISSUER,
      audience: AUTH_AUDIENCE,
    };
  return { kind: 'demo' };
}
