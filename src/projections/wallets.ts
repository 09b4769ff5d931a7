import { sql } from 'kysely';
import { defineProjection, runStatements } from './projection.js';

/** Balances. Every wallet event carries the balance after it, so applying is an upsert. */
export const walletsProjection = defineProjection({
  name: 'wallets',
  version: 1,
  handles: ['WalletCharged', 'WalletDebited', 'WalletRefunded'],
  tables: ['wallets'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS wallets (
         user_id text PRIMARY KEY,
         balance bigint NOT NULL CHECK (balance >= 0),
         revision bigint NOT NULL
       )`,
    ]),
  apply: async (events, trx) => {
    // Each event carries the balance after it: the last one per wallet in the batch wins.
    const latest = new Map<string, { balance: number; revision: number }>();
    for (const { data, revision } of events) {
      latest.set(data.userId, { balance: data.balance, revision: Number(revision) });
    }
    const rows = [...latest];
    await sql`
      INSERT INTO wallets AS w (user_id, balance, revision)
      SELECT * FROM unnest(${rows.map(([userId]) => userId)}::text[], ${rows.map(([, row]) => row.balance)}::bigint[], ${rows.map(([, row]) => row.revision)}::bigint[])
      ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, revision = excluded.revision
      WHERE w.revision < excluded.revision`.execute(trx);
  },
});
