import type { Db } from '../projections/database.js';

export async function walletBalance(
  db: Db,
  userId: string,
): Promise<{ userId: string; balance: number }> {
  const row = await db
    .selectFrom('wallets')
    .select('balance')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return { userId, balance: row?.balance ?? 0 };
}
