import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** One log line per request, written when it completes, instead of Fastify's two. */
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
      url: request.url,
      status: reply.statusCode,
      ms: Number(ms),
    };
    const message = `${request.method} ${request.url} ${reply.statusCode} ${ms}ms`;
    if (error) reply.log.error({ ...line, err: error }, message);
    else reply.log.info(line, message);
  }
}
