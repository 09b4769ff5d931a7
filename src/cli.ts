import { parseArgs } from 'node:util';
import { systemClock } from './commands/clock.js';
import { scheduleConcert } from './commands/schedule-concert.js';
import { checkpointLines } from './cli-checkpoints.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { OperatorError, exitCodes } from './operator-error.js';
import { projections } from './projections/index.js';
import {
  lockRebuilds,
  postgresLog,
  rebuildProjections,
  type RebuildProgress,
} from './projections/rebuild.js';
import { verifyReadModels } from './projections/verify.js';
import { parseMoment, streamHistory, streamStateAt, type HistoryEntry } from './queries/streams.js';
import { traceUser } from './queries/user-trace.js';
import { startSystem, type System } from './system.js';

const usage = `Usage: npm run cli -- <command> [options]

Works on the same store as the service (DATABASE_URL / EVENTSTORE_URL, or the embedded
server in DATA_DIR: joined if the service runs, started otherwise).

Commands:
  history <stream> [--json]          every event of a stream: position, revision, type, time, data
  state <stream> [--at <time|pos>]   the stream's state as of an ISO time or a position "commit/prepare"
  trace --user <userId> [--json]     a user's tokens, place in a draw, holds, charges, payments
  checkpoints                        each projection's checkpoint, how far behind the log's head, since when
  rebuild [projection...]            rebuild projections beside the live ones and swap them in
  verify                             replay the log into a scratch schema and compare with the read models
  seed --concerts <n> --seats <m> [--dates <d>]
                                     schedule a large catalog (for demos and benchmarks)

Stream names: seat-{seatId}, wallet-{userId}, token-{userId}, payment-{paymentId}, concert-{concertId}
Projections: ${projections.map((projection) => projection.name).join(', ')}`;

class UsageError extends Error {}

/** One row per event; each column as wide as its longest cell, so long stream names stay aligned. */
function printHistory(entries: readonly (HistoryEntry & { stream?: string })[], json: boolean) {
  if (json) return console.log(JSON.stringify(entries, null, 2));
  const rows = entries.map((entry) => [
    entry.position,
    entry.createdAt,
    entry.stream ? `${entry.stream} #${entry.revision}` : `#${entry.revision}`,
    entry.type,
    JSON.stringify(entry.data),
  ]);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows)
    console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
}

/** A progress bar on a terminal, plain lines every two seconds otherwise. */
function progressPrinter() {
  let lastLine = 0;
  return (progress: RebuildProgress) => {
    const { projection, applied, total, eventsPerSecond, phase } = progress;
    const share = total ? Math.min(applied / total, 1) : undefined;
    const eta =
      total && eventsPerSecond > 0
        ? Math.max(0, Math.round((total - applied) / eventsPerSecond))
        : undefined;
    const counts = `${applied}${total !== undefined ? `/${total}` : ''} events, ${eventsPerSecond} events/s${eta !== undefined && phase === 'replaying' ? `, ETA ${eta}s` : ''}`;
    if (process.stdout.isTTY) {
      const width = 30;
      const filled = share === undefined ? 0 : Math.round(share * width);
      process.stdout.write(
        `\r${projection.padEnd(16)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counts} ${phase}   `,
      );
      if (phase === 'done') process.stdout.write('\n');
    } else if (phase !== 'replaying' || Date.now() - lastLine > 2000) {
      lastLine = Date.now();
      console.log(`${projection}: ${phase} ${counts}`);
    }
  };
}

const parseOptions = (args: string[]) =>
  parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      at: { type: 'string' },
      user: { type: 'string' },
      concerts: { type: 'string' },
      seats: { type: 'string' },
      dates: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });

interface Invocation {
  readonly command: string;
  readonly positionals: string[];
  readonly values: ReturnType<typeof parseOptions>['values'];
  /** The projections to rebuild. */
  readonly wanted: string[];
  readonly seedShape: SeedShape | undefined;
}

interface SeedShape {
  readonly concerts: number;
  readonly seats: number;
  readonly dates: number;
}

/** Every usage error is found here, before the store is opened. */
function parseInvocation(command: string, rest: string[]): Invocation {
  const { values, positionals } = parseOptions(rest);
  const known = ['history', 'state', 'trace', 'checkpoints', 'rebuild', 'verify', 'seed'];
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}"`);
  const needsStream = command === 'history' || command === 'state';
  if (needsStream && positionals.length !== 1)
    throw new UsageError(`${command} needs exactly one stream name`);
  if (command === 'trace' && !values.user) throw new UsageError('trace needs --user <userId>');
  if (values.at !== undefined && parseMoment(values.at) === undefined)
    throw new UsageError(
      `--at ${JSON.stringify(values.at)} is neither an ISO time (2026-05-01T12:00:00Z) nor a log position "commit/prepare"`,
    );
  const wanted =
    command === 'rebuild'
      ? positionals.length
        ? positionals
        : projections.map((projection) => projection.name)
      : [];
  for (const name of wanted)
    if (!projections.some((projection) => projection.name === name))
      throw new UsageError(`unknown projection "${name}"`);
  const count = (name: 'concerts' | 'seats' | 'dates', fallback?: number) => {
    const raw = values[name] ?? (fallback !== undefined ? String(fallback) : undefined);
    const value = Number(raw);
    if (!raw || !Number.isInteger(value) || value < 1 || value > 100_000)
      throw new UsageError(`--${name} must be a whole number from 1 to 100000`);
    return value;
  };
  const seedShape =
    command === 'seed'
      ? { concerts: count('concerts'), seats: count('seats'), dates: count('dates', 1) }
      : undefined;
  return { command, positionals, values, wanted, seedShape };
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return command ? 0 : 2;
  }
  if (parseOptions(rest).values.help) {
    console.log(usage);
    return 0;
  }
  const invocation = parseInvocation(command, rest);
  const config = loadConfig({ LOG_LEVEL: 'silent', DEMO_SEED: 'false', ...process.env });
  // Rebuild and verify need the live projections to move: run them here unless the service does.
  const system: System = await startSystem({
    config,
    clock: systemClock,
    processes: false,
    projections: command === 'verify' || command === 'rebuild',
  });
  try {
    return await execute(system, config, invocation);
  } finally {
    await system.close();
  }
}

async function execute(system: System, config: Config, invocation: Invocation): Promise<number> {
  const { command, positionals, values } = invocation;
  switch (command) {
    case 'history': {
      const entries = await streamHistory(system.store, positionals[0]!);
      if (entries.length === 0) throw new UsageError(`no stream "${positionals[0]}"`);
      printHistory(entries, values.json);
      return 0;
    }
    case 'state': {
      const state = await streamStateAt(system.store, positionals[0]!, values.at);
      if (!state)
        throw new UsageError(
          'state knows seat-, wallet-, token-, payment-, concert- and queue streams',
        );
      console.log(JSON.stringify(state, null, 2));
      return 0;
    }
    case 'trace': {
      const entries = await traceUser(system, values.user!);
      if (entries.length === 0 && !values.json)
        console.log(`no tokens, holds, charges or payments for user "${values.user}"`);
      else printHistory(entries, values.json);
      return 0;
    }
    case 'checkpoints':
      for (const line of await checkpointLines(system, new Date())) console.log(line);
      return 0;
    case 'rebuild':
      return rebuild(system, config, invocation.wanted);
    case 'verify':
      return verify(system, config);
    case 'seed':
      return seed(system, invocation.seedShape!);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function rebuild(system: System, config: Config, wanted: string[]): Promise<number> {
  const print = progressPrinter();
  const lock = await lockRebuilds(system.pool, wanted);
  if (!lock)
    throw new OperatorError(
      `a rebuild of ${wanted.join(', ')} is running in another process (GET /admin/projections shows it); try again when it is done`,
      exitCodes.busy,
    );
  // One replay for all of them: the log is read once.
  const rebuilt = await rebuildProjections(
    { ...system, ...(config.EVENTSTORE_URL ? {} : postgresLog(system.db)) },
    wanted.map((name) => projections.find((candidate) => candidate.name === name)!),
    print,
  ).finally(() => lock.release());
  for (const done of rebuilt)
    console.log(
      `${done.projection}: rebuilt from ${done.applied} events at ${done.eventsPerSecond} events/s`,
    );
  return 0;
}

async function verify(system: System, config: Config): Promise<number> {
  const differences = await verifyReadModels({
    ...system,
    ...(config.EVENTSTORE_URL ? {} : postgresLog(system.db)),
    projections,
    waitForProjections: (position) =>
      system.runner.waitFor(
        { position, eventTypes: projections.flatMap((projection) => projection.handles) },
        60_000,
      ),
  });
  if (differences.length === 0) {
    console.log('verify: every read model matches a fresh replay of the log');
    return 0;
  }
  for (const difference of differences) {
    console.log(
      `${difference.table}: ${difference.onlyLive.length} row(s) only in the live model, ${difference.onlyReplayed.length} only in the replay`,
    );
    for (const row of difference.onlyLive) console.log(`  live:     ${JSON.stringify(row)}`);
    for (const row of difference.onlyReplayed) console.log(`  replayed: ${JSON.stringify(row)}`);
  }
  return 1;
}

async function seed(system: System, shape: SeedShape): Promise<number> {
  const now = Date.now();
  for (let concert = 0; concert < shape.concerts; concert++) {
    const { concert: scheduled } = await scheduleConcert(system, {
      title: `Seeded concert ${concert + 1}`,
      dates: Array.from({ length: shape.dates }, (_, date) => ({
        concertTime: new Date(now + (date + 7) * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: Array.from({ length: shape.seats }, (_, seat) => ({
          seatNumber: seat + 1,
          price: [70_000, 110_000, 150_000][seat % 3]!,
        })),
      })),
    });
    console.log(`seeded ${scheduled.concertId}: ${shape.dates} date(s) x ${shape.seats} seats`);
  }
  return 0;
}

// A reader that leaves early (`| head -1`) ends the output, not the command: the CLI
// finishes, stops the embedded PostgreSQL it started and exits as it would have.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  console.log = () => undefined;
});

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Operator errors: one line and an exit code (README.md, Troubleshooting).
    if (
      error instanceof UsageError ||
      (error instanceof TypeError &&
        'code' in error &&
        String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      console.error(`${error.message} (npm run cli -- --help shows the commands)`);
      process.exit(exitCodes.usage);
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(exitCodes.config);
    }
    if (error instanceof OperatorError) {
      console.error(error.message);
      process.exit(error.exitCode);
    }
    console.error(error);
    process.exit(1);
  },
);
