import type { FastifyInstance, RouteOptions } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { errorCodes, type ErrorCode } from '../../commands/errors.js';
import type { Access } from '../plugins/access.js';
import { statusOf } from '../problem-details.js';
import { operations, type OperationDoc } from './operations.js';

export type IdentityMode = 'demo' | 'jwt';
type Security = Record<string, string[]>[];
type JsonSchema = Record<string, unknown>;

/**
 * Who may call, as OpenAPI security requirements, from the route's `config.access` (the
 * same field the access plugin enforces, so the document cannot drift from it).
 */
export function securityOf(
  access: Access,
  streamTicket: boolean,
  identityMode: IdentityMode,
): Security {
  switch (access) {
    case 'public':
      return [];
    case 'user':
      // Demo mode accepts (and ignores) a bearer token, hence the empty alternative.
      return identityMode === 'jwt' ? [{ bearerJwt: [] }] : [{ bearerJwt: [] }, {}];
    case 'admin':
      return [{ adminKey: [] }];
    case 'any-token':
    case 'pass':
      return streamTicket ? [{ queueToken: [] }, { streamTicket: [] }] : [{ queueToken: [] }];
  }
}

const bodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const accessErrors: Record<Access, (mode: IdentityMode) => ErrorCode[]> = {
  public: () => [],
  user: (mode) => (mode === 'jwt' ? ['AUTH_INVALID', 'AUTH_UNAVAILABLE'] : []),
  admin: () => ['ADMIN_KEY_INVALID'],
  'any-token': () => ['TOKEN_INVALID'],
  pass: () => ['TOKEN_INVALID', 'TOKEN_NOT_ACTIVE', 'TOKEN_EXPIRED'],
};

/** The route facts the error codes follow from; RouteOptions or a recorded route. */
export interface RouteFacts {
  readonly method: string;
  readonly url: string;
  readonly access: Access;
  readonly schema: { readonly [key: string]: unknown };
}

/**
 * Every code a route can answer: its handler's (the table), its access level's, its
 * inputs' (validation; a body's size and media type; a path parameter's length) and the
 * ones every route shares (500; 503 when it reads the database).
 */
export function errorCodesOf(
  route: RouteFacts,
  doc: OperationDoc,
  identityMode: IdentityMode,
): ErrorCode[] {
  const codes = new Set<ErrorCode>([
    ...doc.errors,
    ...(identityMode === 'jwt' ? (doc.jwtErrors ?? []) : []),
    ...accessErrors[route.access](identityMode),
  ]);
  const { schema } = route;
  const hasBody = bodyMethods.has(route.method);
  if (hasBody || schema.params || schema.querystring || schema.headers)
    codes.add('VALIDATION_FAILED');
  if (hasBody) {
    codes.add('PAYLOAD_TOO_LARGE');
    codes.add('UNSUPPORTED_MEDIA_TYPE');
  }
  if (route.url.includes(':')) codes.add('URI_TOO_LONG');
  codes.add('INTERNAL_ERROR');
  if (doc.database !== false) codes.add('SERVICE_UNAVAILABLE');
  // In the order of errors.ts, so the document is stable.
  return errorCodes.filter((code) => codes.has(code));
}

const statusDescriptions: Record<number, string> = {
  400: 'Bad input (schema, types, ranges, unknown fields, malformed JSON); nothing changed',
  401: 'Missing, malformed or unknown credentials',
  403: 'The credentials are valid but do not allow this now',
  404: 'Unknown resource',
  409: 'Refused by the current state; nothing changed',
  413: 'The body is larger than the limit',
  414: 'A path parameter is longer than 100 characters',
  415: 'The body is not application/json',
  429: 'Too many requests; retry after `Retry-After` seconds',
  500: 'An unexpected error; the detail names the request id, the log has the rest',
  503: 'A dependency (the database, the identity provider) is unreachable; nothing was decided, retry after `Retry-After` seconds',
};

/** Context fields that some codes add to the problem body (api.md). */
const contextFields: Partial<Record<ErrorCode, JsonSchema>> = {
  VALIDATION_FAILED: {
    errors: {
      type: 'array',
      description: 'each invalid field (schema validation)',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  TOKEN_NOT_ACTIVE: {
    position: { type: 'integer', nullable: true, description: 'null while pre-queued' },
  },
  TOKEN_EXPIRED: { reason: { type: 'string', enum: ['ttl', 'payment', 'revoked'] } },
  RESERVATION_NOT_OPEN: { reservationStartTime: { type: 'string', format: 'date-time' } },
  INSUFFICIENT_BALANCE: { balance: { type: 'integer' }, amount: { type: 'integer' } },
  RATE_LIMITED: { retryAfterSeconds: { type: 'integer' } },
  AUTH_UNAVAILABLE: { retryAfterSeconds: { type: 'integer' } },
};

/** RFC 9457 problem details whose `code` is one of those this route answers with `status`. */
export function problemSchema(status: number, codes: readonly ErrorCode[]): JsonSchema {
  return {
    type: 'object',
    description: 'RFC 9457 problem details',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', description: '`/problems/{code in kebab case}`' },
      title: { type: 'string' },
      status: { type: 'integer', enum: [status] },
      detail: { type: 'string', description: 'what went wrong, for a person' },
      code: { type: 'string', enum: [...codes], description: 'stable, for a program' },
      ...Object.assign({}, ...codes.map((code) => contextFields[code] ?? {})),
    },
    additionalProperties: true,
  };
}

function problemResponse(status: number, codes: readonly ErrorCode[]) {
  const headers: Record<string, JsonSchema> = {};
  if (status === 429 || status === 503)
    headers['Retry-After'] = { type: 'integer', description: 'seconds to wait before retrying' };
  if (codes.includes('AUTH_INVALID'))
    headers['WWW-Authenticate'] = { type: 'string', description: '`Bearer`' };
  return {
    description: `${statusDescriptions[status] ?? 'Refused'}: ${codes.map((code) => `\`${code}\``).join(', ')}`,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { 'application/problem+json': { schema: problemSchema(status, codes) } },
  };
}

/** The documented responses of one route: success descriptions, media types, problems. */
function responsesOf(
  route: RouteFacts,
  doc: OperationDoc,
  identityMode: IdentityMode,
  transformed: Record<string, JsonSchema>,
): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    responses[status] =
      typeof response === 'string'
        ? { ...(transformed[status] ?? {}), description: response }
        : {
            description: response.description,
            content: { [response.mediaType]: { schema: { type: 'string' } } },
          };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(route, doc, identityMode)) {
    const status = statusOf[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus)
    if (!(String(status) in responses)) responses[status] = problemResponse(status, codes);
  return responses;
}

/**
 * @fastify/swagger's per-route transform: the zod schemas to JSON schema (as before), then
 * security from the route's access, and every response the route can give, described.
 */
export function documentRoute(identityMode: IdentityMode) {
  return (input: Parameters<typeof jsonSchemaTransform>[0] & { route: RouteOptions }) => {
    const transformed = jsonSchemaTransform(input);
    const schema = transformed.schema as JsonSchema | undefined;
    const operationId = schema?.operationId;
    const doc = typeof operationId === 'string' ? operations[operationId] : undefined;
    // Hidden routes, and undocumented ones (the contract test fails on those), stay as they are.
    if (!schema || schema.hide || !doc) return transformed;
    const { route } = input;
    const facts: RouteFacts = {
      method: String(route.method),
      url: route.url,
      access: route.config?.access ?? 'public',
      schema: (route.schema ?? {}) as RouteFacts['schema'],
    };
    return {
      ...transformed,
      schema: {
        ...schema,
        security: securityOf(facts.access, route.config?.streamTicket === true, identityMode),
        response: responsesOf(
          facts,
          doc,
          identityMode,
          (schema.response ?? {}) as Record<string, JsonSchema>,
        ),
      },
    };
  };
}

const recorded = new WeakMap<object, RouteOptions[]>();

/** Records every route as it is registered (fastify's onRoute), before any is added. */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  recorded.set(app, routes);
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
}

/** Every route of an app built by buildApp, for the test that holds the document to them. */
export const registeredRoutes = (app: object): readonly RouteOptions[] => recorded.get(app) ?? [];
