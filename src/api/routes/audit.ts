import { subjectFormat } from '../plugins/identity.js';
import { z } from 'zod';
import { DomainError } from '../../commands/errors.js';
import { traceUser } from '../../queries/user-trace.js';
import type { ApiContext, ZodApp } from '../context.js';
import { historyEntry } from '../schemas.js';

/** Audit views an operator needs beyond one stream's history (see admin.ts for those). */
export function auditRoutes(app: ZodApp, { system }: ApiContext): void {
  app.get(
    '/admin/users/:userId/trace',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'traceUser',
        summary: "A user's trace across tokens, holds, charges and payments, in log order",
        description:
          "The user's token and wallet streams, their payment streams, and the events of the seats they held that concern their own reservations.",
        params: z.object({
          userId: z.string().min(1).max(255).regex(subjectFormat, {
            error: 'must be 1 to 255 printable characters',
          }),
        }),
        response: {
          200: z.object({
            userId: z.string(),
            events: z.array(historyEntry.extend({ stream: z.string() })),
          }),
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const events = await traceUser(system, userId);
      if (events.length === 0)
        throw new DomainError('NOT_FOUND', `nothing is known about ${userId}`);
      return { userId, events };
    },
  );
}
