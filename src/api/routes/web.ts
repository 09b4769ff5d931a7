import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { DomainError } from '../../commands/errors.js';
import type { FastifyReply } from 'fastify';
import type { ApiContext, ZodApp } from '../context.js';

const webDirectory = new URL('../../../web/', import.meta.url);
const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
};
/** Pages load only same-origin files and call only this API: no inline script or style. */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Every file of web/, read once at start-up: nothing outside it can ever be served. */
function loadFiles(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(webDirectory)) {
    const type = types[name.split('.').pop() ?? ''];
    if (type) files.set(name, { body: readFileSync(new URL(name, webDirectory)), type });
  }
  return files;
}

/** The buyer pages at `/` and the operator pages at `/admin`, plain ES modules from web/. */
export function webRoutes(app: ZodApp, _context: ApiContext): void {
  const files = loadFiles();
  const send = (name: string) => {
    const file = files.get(name);
    if (!file) throw new DomainError('NOT_FOUND', `no file ${name}`);
    return file;
  };
  const page = (name: string) => ({
    config: { access: 'public' as const },
    schema: { hide: true },
    handler: async (_request: unknown, reply: FastifyReply) => {
      const file = send(name);
      return reply
        .type(file.type)
        .header('cache-control', 'no-cache')
        .header('content-security-policy', contentSecurityPolicy)
        .header('x-content-type-options', 'nosniff')
        .send(file.body);
    },
  });
  app.get('/', page('index.html'));
  app.get('/admin', page('admin.html'));
  app.get(
    '/assets/:file',
    {
      config: { access: 'public' },
      schema: { hide: true, params: z.object({ file: z.string().regex(/^[a-z0-9-]+\.[a-z]+$/) }) },
    },
    async (request, reply) => {
      const file = send(request.params.file);
      return reply
        .type(file.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .send(file.body);
    },
  );
}
