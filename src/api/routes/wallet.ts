import { z } from 'zod';
import { charge } from '../../commands/charge.js';
import { walletBalance } from '../../queries/wallets.js';
import type { ApiContext, ZodApp } from '../context.js';
import { awaitReadModels } from '../read-your-writes.js';
import { idempotencyHeaders } from '../schemas.js';

export function walletRoutes(app: ZodApp, context: ApiContext): void {
  const { db } = context.system;

  app.get(
    '/wallet',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['wallet'],
        operationId: 'getWallet',
        summary: 'Your balance',
        response: {
          200: z.object({ userId: z.string(), balance: z.number().int() }),
        },
      },
    },
    async (request) => walletBalance(db, request.caller!.userId),
  );

  chargeRoute(app, context);
}

function chargeRoute(app: ZodApp, { system }: ApiContext): void {
  const { clock, config } = system;

  app.post(
    '/wallet/charges',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['wallet'],
        operationId: 'chargeWallet',
        summary: 'Top up your wallet; retry safely with an Idempotency-Key',
        headers: idempotencyHeaders,
        body: z.strictObject({
          amount: z
            .number({ error: 'must be a number' })
            .int({ error: 'must be a whole number of KRW' })
            .positive({ error: 'must be positive' })
            .max(config.MAX_CHARGE_AMOUNT, {
              error: `must be at most ${config.MAX_CHARGE_AMOUNT}`,
            }),
        }),
        response: {
          200: z.object({ userId: z.string(), balance: z.number().int(), chargeId: z.string() }),
        },
      },
    },
    async (request, reply) => {
      const userId = request.caller!.userId;
      const result = await charge(
        { store: system.store, clock, maxChargeAmount: config.MAX_CHARGE_AMOUNT },
        { userId, amount: request.body.amount, idempotencyKey: request.headers['idempotency-key'] },
      );
      await awaitReadModels(
        system.runner,
        reply,
        result.written,
        config.READ_YOUR_WRITES_TIMEOUT_MS,
      );
      return { userId, balance: result.balance, chargeId: result.chargeId };
    },
  );
}
