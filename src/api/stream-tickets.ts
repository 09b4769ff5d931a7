import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { advisoryLocks } from '../events/store/postgres/advisory-locks.js';
import type { Db } from '../projections/database.js';

/** How long a stream ticket may be used to open a stream; an open stream stays open. */
export const streamTicketTtlSeconds = 60;

const version = 1;
const uuidBytes = 16;
const ivBytes = 12;
const tagBytes = 16;
const sealedLength = 1 + ivBytes + uuidBytes + 8 + tagBytes;
/** Binds the sealed bytes to their purpose: a key reused elsewhere cannot mint tickets. */
const purpose = Buffer.from('concert-reservation stream ticket v1');

export interface StreamTicket {
  readonly ticket: string;
  readonly expiresAt: string;
}

/**
 * Short-lived tickets that let a browser's EventSource (which cannot send headers) open an
 * event stream. A ticket is AES-256-GCM sealed (authenticated: the tag signs it), so it
 * names its queue token without revealing it: the long-lived token never appears in a URL
 * or an access log, and a leaked ticket opens only event streams, for one minute.
 */
export class StreamTickets {
  constructor(private readonly key: Buffer) {}

  issue(tokenId: string, now: Date): StreamTicket {
    const expiresAt = new Date(now.getTime() + streamTicketTtlSeconds * 1000);
    const plain = Buffer.alloc(uuidBytes + 8);
    Buffer.from(tokenId.replaceAll('-', ''), 'hex').copy(plain, 0);
    plain.writeBigInt64BE(BigInt(expiresAt.getTime()), uuidBytes);
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(purpose);
    const sealed = Buffer.concat([
      Buffer.of(version),
      iv,
      cipher.update(plain),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return { ticket: sealed.toString('base64url'), expiresAt: expiresAt.toISOString() };
  }

  /** The token id a ticket names, or why it does not open a stream. */
  open(ticket: string, now: Date): { tokenId: string } | { refused: 'invalid' | 'expired' } {
    const sealed = Buffer.from(ticket, 'base64url');
    if (sealed.length !== sealedLength || sealed[0] !== version) return { refused: 'invalid' };
    const iv = sealed.subarray(1, 1 + ivBytes);
    const body = sealed.subarray(1 + ivBytes, sealedLength - tagBytes);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(purpose);
    decipher.setAuthTag(sealed.subarray(sealedLength - tagBytes));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      return { refused: 'invalid' };
    }
    if (Number(plain.readBigInt64BE(uuidBytes)) <= now.getTime()) return { refused: 'expired' };
    const hex = plain.subarray(0, uuidBytes).toString('hex');
    const tokenId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    return { tokenId };
  }
}

/**
 * The ticket key: random, made once per database and shared by every process on it, so
 * a ticket minted by one process opens a stream on any other.
 */
export async function loadStreamTicketKey(db: Db): Promise<Buffer> {
  return db.transaction().execute(async (trx) => {
    // Two processes starting together would otherwise race on CREATE TABLE.
    await sql`SELECT pg_advisory_xact_lock(${advisoryLocks.serviceKeys})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS service_keys (name text PRIMARY KEY, key bytea NOT NULL)`.execute(
      trx,
    );
    await sql`INSERT INTO service_keys VALUES ('stream-ticket', ${randomBytes(32)}) ON CONFLICT (name) DO NOTHING`.execute(
      trx,
    );
    const { rows } = await sql<{
      key: Buffer;
    }>`SELECT key FROM service_keys WHERE name = 'stream-ticket'`.execute(trx);
    return rows[0]!.key;
  });
}
