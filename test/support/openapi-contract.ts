import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { HttpResponse } from './api.js';

type Schema = Record<string, unknown>;
interface MediaType {
  readonly schema?: Schema;
}
export interface Operation {
  readonly operationId?: string;
  readonly security?: readonly Record<string, string[]>[];
  readonly responses: Record<string, { description: string; content?: Record<string, MediaType> }>;
}
export interface OpenApiDocument {
  readonly paths: Record<string, Record<string, Operation>>;
}

// ajv-formats is CommonJS: under native ESM its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as (ajv: Ajv) => Ajv;

/** Holds HTTP answers to an OpenAPI document: documented status, media type, body schema. */
export class Contract {
  private readonly ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
  private readonly validators = new WeakMap<Schema, ValidateFunction>();
  /** `method path status` of every answer checked, to see what a walk covered. */
  readonly seen = new Set<string>();
  private readonly templates: { path: string; pattern: RegExp }[];

  constructor(readonly document: OpenApiDocument) {
    this.templates = Object.keys(document.paths)
      .map((path) => ({
        path,
        pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        params: (path.match(/\{/g) ?? []).length,
      }))
      // A literal segment wins over a parameter (as in Fastify's router).
      .sort((a, b) => a.params - b.params);
  }

  /** The documented operation for a request, or a failure naming the request. */
  operation(method: string, url: string): { path: string; operation: Operation } {
    const pathname = new URL(url, 'http://localhost').pathname;
    const template = this.templates.find(({ pattern }) => pattern.test(pathname));
    const operation = template && this.document.paths[template.path]![method.toLowerCase()];
    if (!template || !operation)
      throw new Error(`${method} ${pathname} is not in the OpenAPI document`);
    return { path: template.path, operation };
  }

  /** Fails (with the request, status and reasons) unless the document describes the answer. */
  check(method: string, url: string, response: HttpResponse): void {
    const { path, operation } = this.operation(method, url);
    const where = `${method} ${path} -> ${response.statusCode}`;
    const documented = operation.responses[String(response.statusCode)];
    if (!documented)
      throw new Error(
        `${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')}); body ${response.body.slice(0, 300)}`,
      );
    this.seen.add(`${method.toUpperCase()} ${path} ${response.statusCode}`);
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = documented.content?.[contentType];
    if (!media)
      throw new Error(
        `${where}: content type ${contentType || '(none)'} not documented (documented: ${Object.keys(documented.content ?? {}).join(', ') || 'no body'})`,
      );
    if (!media.schema || !/json$/.test(contentType)) return;
    const validate = this.validator(media.schema);
    if (!validate(JSON.parse(response.body)))
      throw new Error(
        `${where}: body does not match the documented schema: ${this.ajv.errorsText(validate.errors)}; body ${response.body.slice(0, 500)}`,
      );
  }

  private validator(schema: Schema): ValidateFunction {
    let validate = this.validators.get(schema);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.validators.set(schema, validate);
    }
    return validate;
  }
}
