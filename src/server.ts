import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { buildApp } from './api/app.js';
import { systemClock } from './commands/clock.js';
import { seedDemoCatalog } from './commands/demo-catalog.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startSystem } from './system.js';

/** Composition root: config -> system (database, store, projections, processes) -> API -> listen. */
async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const log = pino({ level: config.LOG_LEVEL });
  const adminApiKey = config.ADMIN_API_KEY ?? randomBytes(18).toString('base64url');

  const system = await startSystem({
    config,
    clock: systemClock,
    log: {
      info: (message) => log.info(message),
      error: (error, message) => log.error({ err: error }, message),
    },
  });
  const embedded = !config.DATABASE_URL && !config.EVENTSTORE_URL;
  if (config.DEMO_SEED ?? embedded) {
    const seeded = await seedDemoCatalog(system);
    if (seeded) {
      await system.runner.waitFor(seeded.written, 30_000);
      log.info(`seeded the demo concert ${seeded.concert.concertId}`);
    }
  }

  const app = await buildApp({ system, adminApiKey, logger: log });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: finishing in-flight requests, then stopping projections and the database`);
    await app.close();
    await system.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const address = await app.listen({ host: config.HOST, port: config.PORT });
  const base = address.replace('[::1]', 'localhost');
  if (!config.ADMIN_API_KEY)
    log.warn(`ADMIN_API_KEY is not set; this run's admin key is ${adminApiKey}`);
  log.info(
    [
      `concert reservation API on ${base} (OpenAPI UI: ${base}/docs)`,
      'try it:',
      `  curl -s ${base}/concerts`,
      `  curl -s -XPOST ${base}/queue/tokens -H 'content-type: application/json' -d '{"userId":"alice"}'`,
      '  then send the token as X-Queue-Token: README.md walks through the rest',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
