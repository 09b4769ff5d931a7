import { subjectFormat } from '../plugins/identity.js';
import { sql } from 'kysely';
import { z } from 'zod';
import { openAndDraw } from '../../commands/queue-opening.js';
import {
  changeQueueSettings,
  effectiveSettings,
  firstQueueSettings,
  readQueue,
} from '../../commands/queue-settings.js';
import { revokeToken } from '../../commands/revoke-token.js';
import { writtenBy } from '../../commands/written.js';
import { queueModes, type QueueSettings } from '../../events/queue.js';
import type { Db } from '../../projections/database.js';
import type { ApiContext, ZodApp } from '../context.js';
import { awaitReadModels } from '../read-your-writes.js';
import { isoTime, storedText, storedTime } from '../schemas.js';

const queueView = z.object({
  mode: z.enum(queueModes),
  maxActive: z.number().int(),
  admissionsPerMinute: z.number().int().nullable(),
  opensAt: isoTime.nullable(),
  waiting: z.number().int().describe('waiting with a place in line (pre-queued excluded)'),
  active: z.number().int(),
  prequeued: z.number().int(),
  admittedLastMinute: z.number().int(),
});

const settingsPatch = z
  .strictObject({
    mode: z.enum(queueModes).optional(),
    maxActive: z.number().int().min(1).max(1_000_000).optional(),
    admissionsPerMinute: z.number().int().min(1).max(1_000_000).nullable().optional(),
    opensAt: storedTime.nullable().optional().describe('a future time, or null to open now'),
  })
  .refine((patch) => Object.keys(patch).length > 0, { error: 'name at least one setting' });

const userId = z
  .string()
  .min(1)
  .max(255)
  // Any user id a join can create, including a JWT `sub` such as `auth0|abc`.
  .regex(subjectFormat, { error: 'must be 1 to 255 printable characters' });

async function queueCounts(db: Db, now: Date) {
  const { rows } = await sql<{
    waiting: number;
    prequeued: number;
    active: number;
    admitted_last_minute: number;
  }>`
    SELECT
      (SELECT count(*)::int FROM tokens WHERE status = 'hold' AND queue_number IS NOT NULL) AS waiting,
      (SELECT count(*)::int FROM tokens WHERE status = 'hold' AND queue_number IS NULL) AS prequeued,
      (SELECT count(*)::int FROM tokens WHERE status = 'pass' AND expires_at > ${now}) AS active,
      (SELECT count(*)::int FROM tokens WHERE admitted_at >= ${new Date(now.getTime() - 60_000)}) AS admitted_last_minute`.execute(
    db,
  );
  const row = rows[0]!;
  return {
    waiting: row.waiting,
    prequeued: row.prequeued,
    active: row.active,
    admittedLastMinute: row.admitted_last_minute,
  };
}

/** Live operator controls: settings are events in the stream `queue` (api.md). */
export function adminQueueRoutes(app: ZodApp, context: ApiContext): void {
  const { system } = context;
  const { config, db, clock } = system;
  const first = firstQueueSettings(config);
  const view = async (settings: QueueSettings) => ({
    ...settings,
    ...(await queueCounts(db, clock())),
  });

  app.get(
    '/admin/queue',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'getQueue',
        summary: 'The queue settings (from the stream `queue`) and its counts',
        response: { 200: queueView },
      },
    },
    async () => view(effectiveSettings(await readQueue(system.store), first)),
  );

  app.patch(
    '/admin/queue',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'changeQueue',
        summary:
          'Change the mode, cap, rate or opening while buyers wait; each change is an event in the stream `queue`',
        body: settingsPatch,
        response: { 200: queueView },
      },
    },
    async (request) => {
      const changes = Object.fromEntries(
        Object.entries(request.body).filter(([, value]) => value !== undefined),
      ) as Partial<QueueSettings>;
      const changed = await changeQueueSettings({ ...system, firstQueueSettings: first }, changes);
      // Clearing the opening opened it: draw now rather than at the next admission round.
      const drawn = changed.state.pendingDraw !== undefined ? await openAndDraw(system) : undefined;
      const written = writtenBy(changed.written, drawn);
      await system.runner.waitFor(written, config.READ_YOUR_WRITES_TIMEOUT_MS);
      return view(effectiveSettings(changed.state, first));
    },
  );

  revocationRoute(app, context);
}

function revocationRoute(app: ZodApp, { system }: ApiContext): void {
  const { config } = system;
  app.post(
    '/admin/queue/revocations',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'revokeToken',
        summary: "Revoke a user's live queue token at once, on every process",
        body: z.strictObject({ userId, reason: storedText(500).optional() }),
        response: {
          200: z.object({ userId: z.string(), token: z.string(), status: z.literal('expired') }),
        },
      },
    },
    async (request, reply) => {
      const { tokenId, written } = await revokeToken(
        system,
        request.body.userId,
        request.body.reason,
      );
      await awaitReadModels(system.runner, reply, written, config.READ_YOUR_WRITES_TIMEOUT_MS);
      return { userId: request.body.userId, token: tokenId, status: 'expired' as const };
    },
  );
}
