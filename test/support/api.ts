import { admitWaitingTokens } from '../../src/commands/admission.js';
import { tokensProjectionTypes } from '../../src/commands/queue-opening.js';
import { firstQueueSettings } from '../../src/commands/queue-settings.js';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp, type App } from '../../src/api/app.js';
import { startTestSystem, TestClock, type TestSystem } from './system.js';

export const adminKey = 'test-admin-key-0123456789';

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Headers;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as it is. */
  readonly payload?: unknown;
}

/**
 * Real HTTP on a loopback port. (Fastify's inject loads an ESM-only dependency that
 * Jest's module system cannot require, and a real socket is closer to production.)
 */
export interface TestApi {
  readonly app: App;
  readonly baseUrl: string;
  inject(request: HttpRequest): Promise<HttpResponse>;
  readonly system: TestSystem;
  /** One admission round, as the background process would run it. */
  admit(): Promise<void>;
  /** A user with an admitted (pass) token. */
  admittedUser(userId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestApi(
  env: Record<string, string> = {},
  options: { logger?: FastifyBaseLogger } = {},
): Promise<TestApi> {
  const system = await startTestSystem(
    { MAX_ACTIVE_TOKENS: '1000', ...env },
    { clock: new TestClock(Date.now()) },
  );
  const app = await buildApp({ system, adminApiKey: adminKey, ...options });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const inject = async (request: HttpRequest): Promise<HttpResponse> => {
    const headers: Record<string, string> = { ...request.headers };
    let body: string | undefined;
    if (request.payload !== undefined) {
      body =
        typeof request.payload === 'string' ? request.payload : JSON.stringify(request.payload);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(baseUrl + request.url, {
      method: request.method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    return {
      statusCode: response.status,
      headers: response.headers,
      body: text,
      json: <T>() => JSON.parse(text) as T,
    };
  };
  const admit = async () => {
    // The background admission process may hold the admission lock right now (a round
    // returns undefined then): retry until this round really ran, so that every token
    // admissible now has been admitted by one round or the other.
    for (let attempt = 0; attempt < 100; attempt++) {
      const round = await admitWaitingTokens({
        ...system,
        maxActiveTokens: system.config.MAX_ACTIVE_TOKENS,
        tokenTtlSeconds: system.config.TOKEN_TTL_SECONDS,
        firstQueueSettings: firstQueueSettings(system.config),
      });
      if (round !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Admission runs in the background in production: wait until its effect is readable.
    const head = await system.store.headPosition({ eventTypes: tokensProjectionTypes });
    await system.runner.waitFor({ position: head, eventTypes: tokensProjectionTypes }, 5000);
  };
  return {
    app,
    baseUrl,
    inject,
    system,
    admit,
    admittedUser: async (userId) => {
      const issued = await inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
      const token = issued.json<{ token: string }>().token;
      await admit();
      return token;
    },
    close: async () => {
      await app.close();
      await system.drop();
    },
  };
}

/** A concert through the admin API, open for reservations now. */
export async function createConcert(api: TestApi, seats = 5, opensInSeconds = -3600) {
  const now = api.system.clock().getTime();
  const response = await api.inject({
    method: 'POST',
    url: '/admin/concerts',
    headers: { 'x-admin-key': adminKey },
    payload: {
      title: 'API test concert',
      dates: [
        {
          concertTime: new Date(now + 7 * 86_400_000).toISOString(),
          reservationStartTime: new Date(now + opensInSeconds * 1000).toISOString(),
          seats: Array.from({ length: seats }, (_, i) => ({
            seatNumber: i + 1,
            price: 10_000 * (i + 1),
          })),
        },
      ],
    },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{
    concertId: string;
    dates: { concertTimeId: string; seats: { seatId: string; seatNumber: number }[] }[];
  }>();
}
