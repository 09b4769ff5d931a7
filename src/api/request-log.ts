import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** One line per request, written when it completes: method, URL, status, milliseconds. */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const ms = reply.elapsedTime.toFixed(1);
    const line = {
      method: request.method,
      url: loggedUrl(request.url),
      status: reply.statusCode,
      ms: Number(ms),
    };
    const message = `${line.method} ${line.url} ${line.status} ${ms}ms`;
    if (error) reply.log.error({ ...line, err: error }, message);
    else reply.log.info(line, message);
  }
}

/**
 * An event stream's one line, written when it opens (it may stay open for minutes, and
 * its end is not logged: see releaseHijackedReply).
 */
export function logStreamOpened(request: FastifyRequest): void {
  const line = { method: request.method, url: loggedUrl(request.url), status: 200, stream: true };
  request.log.info(line, `${line.method} ${line.url} 200 stream opened`);
}

/** A stream ticket opens its user's streams for 60 s: the log never holds one. */
export function loggedUrl(url: string): string {
  return url.includes('ticket=') ? url.replace(/([?&]ticket=)[^&]*/g, '$1[redacted]') : url;
}
