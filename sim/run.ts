import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/events/store/embedded.js';
import { simulate } from './simulation.js';

/**
 * npm run simulate -- [--seed N] [--runs N] [--operations N] [--reintroduce-defect-1]
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
  for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
    const name = `sim_${seed}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const result = await simulate({
      seed,
      databaseUrl: url.toString(),
      operations,
      reintroduceDefect1: defect,
    });
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    if (result.violations.length > 0) {
      failed++;
      console.log(`seed ${seed}: ${result.violations.length} violation(s)`);
      for (const violation of result.violations) console.log(`  ${violation}`);
      console.log(
        `  replay: npm run simulate -- --seed ${seed} --operations ${operations}${defect ? ' --reintroduce-defect-1' : ''}`,
      );
    } else if (runs <= 20) {
      console.log(`seed ${seed}: ok (${result.faults} faults injected, ${result.crashes} crashes)`);
    }
  }
  console.log(
    `${runs} run(s), ${failed} with violations, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  await admin.end();
  await embedded?.stop();
  process.exit(failed > 0 ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
