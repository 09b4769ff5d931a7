import type { FastifyReply } from 'fastify';
import type { Written } from '../commands/written.js';
import type { ProjectionRunner } from '../projections/runner.js';

/**
 * A command answers only once the projections that read its events have passed its log
 * position, so every later query by anyone sees it. After the bound it answers anyway
 * and says so in a header.
 */
export async function awaitReadModels(
  runner: ProjectionRunner,
  reply: FastifyReply,
  written: Written,
  timeoutMs: number,
) {
  const caughtUp = await runner.waitFor(written, timeoutMs);
  if (!caughtUp) reply.header('x-read-models-behind', 'true');
}
