import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/events/store/embedded.js';
import { simulate } from './simulation.js';

/**
 * npm run simulate -- [--seed N] [--runs N] [--operations N] [--minutes M] [--reintroduce-defect-1]
 * (--minutes: start no new seed after M minutes, for a long run on a time budget)
 * Runs seeded fault simulations, each on a fresh database of a real PostgreSQL server
 * (SIM_DATABASE_URL, or an embedded one in .data-sim on EMBEDDED_PG_PORT or 55439).
 */
function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function main() {
  const firstSeed = Number(argument('seed') ?? 1);
  const runs = Number(argument('runs') ?? 1);
  const operations = Number(argument('operations') ?? 30);
  const defect = process.argv.includes('--reintroduce-defect-1');
  const deadline = Date.now() + Number(argument('minutes') ?? Infinity) * 60_000;
  let serverUrl = process.env.SIM_DATABASE_URL;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({
      dataDir: process.env.SIM_DATA_DIR ?? '.data-sim',
      port: Number(process.env.EMBEDDED_PG_PORT ?? 55439),
      database: 'postgres',
      settings: { fsync: 'off', synchronous_commit: 'off' },
    });
    serverUrl = embedded.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  admin.on('error', () => undefined);
  await admin.connect();
  let failed = 0;
  const started = Date.now();
  let ran = 0;
  for (let seed = firstSeed; seed < firstSeed + runs && Date.now() < deadline; seed++) {
    ran++;
    const violations = await runSeed(admin, serverUrl, { seed, operations, defect });
    if (violations.length > 0) failed++;
    const replay = `npm run simulate -- --seed ${seed} --operations ${operations}${defect ? ' --reintroduce-defect-1' : ''}`;
    print(
      violations.length === 0
        ? `seed ${seed}: ok`
        : [
            `seed ${seed}: ${violations.length} violation(s)`,
            ...violations.map((v) => `  ${v}`),
            `  replay: ${replay}`,
          ].join('\n'),
    );
  }
  const seconds = (Date.now() - started) / 1000;
  print(
    `${ran} run(s) from seed ${firstSeed}, ${failed} with violations, ${seconds.toFixed(1)} s (${((ran / seconds) * 60).toFixed(1)} seeds/minute)`,
  );
  await admin.end();
  await embedded?.stop();
  await exit(failed > 0 ? 1 : 0);
}

/** One seed on a fresh database; an error or a hang is reported as that seed's violation. */
async function runSeed(
  admin: pg.Client,
  serverUrl: string,
  run: { seed: number; operations: number; defect: boolean },
): Promise<string[]> {
  const name = `sim_${run.seed}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      simulate({
        seed: run.seed,
        databaseUrl: url.toString(),
        operations: run.operations,
        reintroduceDefect1: run.defect,
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no result after ${seedTimeoutMs} ms`)),
          seedTimeoutMs,
        );
      }),
    ]);
    return result.violations;
  } catch (error) {
    return [`(harness) the run failed: ${error instanceof Error ? error.message : String(error)}`];
  } finally {
    clearTimeout(timer);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

const seedTimeoutMs = 180_000;

/** One line per seed, written before the next seed starts (a redirected stdout included). */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Exits once stdout has flushed, so the verdict reaches a file or a pipe. */
function exit(code: number): Promise<never> {
  return new Promise(() => {
    process.stdout.write('', () => process.exit(code));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
