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
  // One child per route, method and status, found without hashing the label object as
  // prom-client would on every observation. A callback hook: no promise per request.
  type Child = { observe(seconds: number): void };
  const children = new WeakMap<object, Map<string, Child>>();
  app.addHook('onResponse', (request, reply, done) => {
    // The route's config is one object per route (routeOptions itself is built per call);
    // the not-found route's is shared by every method, so the method is in the key.
    const { config } = request.routeOptions;
    let byAnswer = children.get(config);
    if (!byAnswer) children.set(config, (byAnswer = new Map<string, Child>()));
    const key = `${request.method} ${reply.statusCode}`;
    let child = byAnswer.get(key);
    if (!child) {
      child = duration.labels({
        method: request.method,
        route: config.url ?? 'unknown',
        status: String(reply.statusCode),
      });
      byAnswer.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
}
