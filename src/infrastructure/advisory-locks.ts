/** Every PostgreSQL advisory lock the service takes, in one place so ids never collide. */
export const advisoryLocks = {
  /** Event store schema migration (events/store/postgres/schema.ts). */
  eventStoreMigration: 7_331_001,
  /** The one process that runs the projections (projections/runner.ts). */
  projectionLeader: 7_331_002,
  /** The one admitter acting at a time (commands/admission.ts). */
  admission: 7_331_003,
  /** Read-model table creation and version resets (projections/runner.ts). */
  projectionSetup: 7_331_004,
  /** Creating the shared service keys (api/stream-tickets.ts). */
  serviceKeys: 7_331_005,
  /** Creating the join rate limit table (api/join-rate-limit.ts). */
  joinRateLimitSetup: 7_331_006,
} as const;
