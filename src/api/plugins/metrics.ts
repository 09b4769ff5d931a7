import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../../commands/clock.js';
import type { Db } from '../../projections/database.js';
import type { EventStore } from '../../events/store/port.js';
import type { ProjectionRunner } from '../../projections/runner.js';
import { projectionStatuses } from '../../queries/projections.js';
import { activeTokenCount, queueLength } from '../../queries/tokens.js';

export interface Metrics {
  readonly registry: Registry;
  readonly holds: Counter<'outcome'>;
  readonly payments: Counter<'outcome'>;
}

/** Prometheus metrics: HTTP latency, queue, holds, payments, projections. */
export function createMetrics(deps: {
  db: Db;
  clock: Clock;
  runner: ProjectionRunner;
  store: EventStore;
}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'queue_waiting_tokens',
    help: 'Tokens waiting in line',
    registers: [registry],
    async collect() {
      this.set((await queueLength(deps.db)).waiting);
    },
  });
  new Gauge({
    name: 'queue_active_tokens',
    help: 'Admitted tokens not yet expired',
    registers: [registry],
    async collect() {
      this.set(await activeTokenCount(deps.db, deps.clock()));
    },
  });
  new Gauge({
    name: 'projection_events_applied',
    help: 'Events applied by each projection since its last rebuild',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      for (const status of await deps.runner.statuses())
        this.set({ projection: status.name }, status.eventsApplied);
    },
  });
  new Gauge({
    name: 'projection_lag_events',
    help: 'Events of its types in the log that each projection has not applied yet (capped at 10000)',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      for (const status of await projectionStatuses(deps))
        this.set({ projection: status.name }, status.lag);
    },
  });
  return {
    registry,
    holds: new Counter({
      name: 'seat_holds_total',
      help: 'Seat hold requests by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    payments: new Counter({
      name: 'payments_total',
      help: 'Payment requests by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics.registry],
  });
  // One child per route and status, found without building a key: prom-client would hash
  // the label object on every observation. A callback hook: no promise per request.
  type Child = { observe(seconds: number): void };
  const children = new WeakMap<object, Map<number, Child>>();
  app.addHook('onResponse', (request, reply, done) => {
    // The route's config is one object per route (routeOptions itself is built per call).
    const { config } = request.routeOptions;
    let byStatus = children.get(config);
    if (!byStatus) children.set(config, (byStatus = new Map<number, Child>()));
    let child = byStatus.get(reply.statusCode);
    if (!child) {
      child = duration.labels({
        method: request.method,
        route: config.url ?? 'unknown',
        status: String(reply.statusCode),
      });
      byStatus.set(reply.statusCode, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
}
