import { createServer } from 'node:net';
import type { Logger } from 'pino';
import { resolveAdminKey } from './admin-key.js';
import { buildApp } from './api/app.js';
import { systemClock } from './commands/clock.js';
import { seedDemoCatalog } from './commands/demo-catalog.js';
import { ConfigError, identitySource, loadConfig, type Config } from './config.js';
import { createLogger, systemLogger } from './logger.js';
import { OperatorError, exitCodes } from './operator-error.js';
import { dataDirectory, startSystem } from './system.js';

function banner(
  config: Config,
  base: string,
  adminKey: { key: string; source: string },
  tty: boolean,
) {
  const key =
    adminKey.source === 'ADMIN_API_KEY'
      ? 'from ADMIN_API_KEY'
      : `${tty ? `${adminKey.key} ` : ''}(kept in ${adminKey.source}; set ADMIN_API_KEY to choose one)`;
  return [
    'concert reservation API is ready',
    `  API:       ${base}`,
    `  docs:      ${base}/docs (OpenAPI JSON: ${base}/docs/json)`,
    `  data:      ${config.DATABASE_URL ? 'DATABASE_URL' : dataDirectory(config)}`,
    `  admin key: ${key}`,
    `  try:       curl -s ${base}/concerts   (README.md walks through a booking)`,
  ].join('\n');
}

const portInUse = (config: Config) =>
  new OperatorError(
    `PORT ${config.PORT} on ${config.HOST} is in use by another process; set PORT to a free port`,
    exitCodes.portInUse,
  );

/** Fails fast, before the database starts, when the API's port is taken (listen checks again). */
async function assertPortFree(config: Config) {
  if (config.PORT === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? portInUse(config) : error),
    );
    probe.listen({ host: config.HOST, port: config.PORT }, () => probe.close(() => resolve()));
  });
}

async function listen(app: Awaited<ReturnType<typeof buildApp>>, config: Config) {
  try {
    return await app.listen({ host: config.HOST, port: config.PORT });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw portInUse(config);
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new OperatorError(
        `cannot listen on ${config.HOST}:${config.PORT} (${code}); check HOST and PORT`,
        exitCodes.config,
      );
    throw error;
  }
}

/** Composition root: config -> system (database, store, projections, processes) -> API -> listen. */
async function main(log: (logger: Logger) => void) {
  const config = loadConfig();
  const logger = await createLogger(config);
  log(logger);
  await assertPortFree(config);
  const adminKey = await resolveAdminKey(config.ADMIN_API_KEY, dataDirectory(config));
  const system = await startSystem({
    config,
    clock: systemClock,
    log: systemLogger(logger),
  });
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) =>
    (stopping ??= (async () => {
      logger.info(
        `${reason}: finishing in-flight requests, then stopping projections and the database`,
      );
      await app?.close();
      await system.close();
    })());
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => void stop(signal).then(() => process.exit(0)));
  try {
    const embedded = !config.DATABASE_URL && !config.EVENTSTORE_URL;
    if (config.DEMO_SEED ?? embedded) {
      const seeded = await seedDemoCatalog(system);
      if (seeded) {
        await system.runner.waitFor(seeded.written, 30_000);
        logger.info(
          seeded.scheduledNow
            ? `seeded the demo concert ${seeded.concert.concertId}`
            : `another process seeded the demo concert ${seeded.concert.concertId} at the same moment`,
        );
      }
    }
    app = await buildApp({ system, adminApiKey: adminKey.key, logger });
    const address = await listen(app, config);
    const base = address.replace('[::1]', 'localhost').replace('127.0.0.1', 'localhost');
    logger.info(banner(config, base, adminKey, Boolean(process.stdout.isTTY)));
    const identity = identitySource(config);
    if (identity.kind === 'demo')
      logger.warn(
        'DEMO MODE: no identity provider (AUTH_JWKS_URL or AUTH_JWT_SECRET) is configured, so anyone can act as any user by naming them in POST /queue/tokens',
      );
    else logger.info(`joins require a bearer JWT from ${identity.issuer} for ${identity.audience}`);
  } catch (error) {
    await stop('start-up failed');
    throw error;
  }
}

let logger: Logger | undefined;
main((created) => (logger = created)).catch((error: unknown) => {
  // Operator errors are one line and an exit code; anything else keeps its stack.
  const known =
    error instanceof OperatorError
      ? error
      : error instanceof ConfigError
        ? new OperatorError(error.message, exitCodes.config)
        : undefined;
  if (known) {
    if (logger) logger.fatal(known.message);
    else console.error(known.message);
    process.exit(known.exitCode);
  }
  console.error(error);
  process.exit(1);
});
