import type pg from 'pg';
import { advisoryLocks } from '../../../infrastructure/advisory-locks.js';

/**
 * The event log. See docs/event-store.md for why positions are (transaction id, sequence)
 * and why readers only see transactions older than their snapshot's xmin.
 */
const eventStoreSchema = [
  `CREATE TABLE IF NOT EXISTS es_streams (
     stream_name text PRIMARY KEY,
     revision bigint NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS es_events (
     seq bigint GENERATED ALWAYS AS IDENTITY,
     transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
     event_id uuid NOT NULL,
     stream_name text NOT NULL,
     stream_revision bigint NOT NULL,
     event_type text NOT NULL,
     data jsonb NOT NULL,
     metadata jsonb NOT NULL DEFAULT '{}',
     created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
     PRIMARY KEY (transaction_id, seq),
     CONSTRAINT es_events_stream_revision_key UNIQUE (stream_name, stream_revision),
     CONSTRAINT es_events_event_id_key UNIQUE (event_id)
   )`,
  `CREATE INDEX IF NOT EXISTS es_events_type_position ON es_events (event_type, transaction_id, seq)`,
  // One round trip per append. Returns outcome 'ok', 'duplicate' (the batch's last event id
  // is already stored in this stream: idempotent retry) or 'wrong_expected_revision'
  // (revision then holds the actual revision, -1 for no stream).
  `CREATE OR REPLACE FUNCTION es_append(p_stream text, p_expected text, p_events jsonb)
   RETURNS TABLE (outcome text, revision bigint, transaction_id text, seq bigint)
   LANGUAGE plpgsql AS $$
   DECLARE
     v_count int := jsonb_array_length(p_events);
     v_last_id uuid := (p_events -> (v_count - 1) ->> 'id')::uuid;
     v_revision bigint;
   BEGIN
     RETURN QUERY
       SELECT 'duplicate'::text, e.stream_revision, e.transaction_id::text, e.seq
       FROM es_events e WHERE e.event_id = v_last_id AND e.stream_name = p_stream;
     IF FOUND THEN RETURN; END IF;

     IF p_expected = 'any' THEN
       INSERT INTO es_streams AS s VALUES (p_stream, v_count - 1)
       ON CONFLICT (stream_name) DO UPDATE SET revision = s.revision + v_count
       RETURNING s.revision INTO v_revision;
     ELSIF p_expected = 'no_stream' THEN
       INSERT INTO es_streams AS s VALUES (p_stream, v_count - 1)
       ON CONFLICT (stream_name) DO NOTHING
       RETURNING s.revision INTO v_revision;
     ELSIF p_expected = 'stream_exists' THEN
       UPDATE es_streams AS s SET revision = s.revision + v_count
       WHERE s.stream_name = p_stream RETURNING s.revision INTO v_revision;
     ELSE
       UPDATE es_streams AS s SET revision = s.revision + v_count
       WHERE s.stream_name = p_stream AND s.revision = p_expected::bigint
       RETURNING s.revision INTO v_revision;
     END IF;

     IF v_revision IS NULL THEN
       RETURN QUERY SELECT 'wrong_expected_revision'::text,
         coalesce((SELECT s.revision FROM es_streams s WHERE s.stream_name = p_stream), -1),
         NULL::text, NULL::bigint;
       RETURN;
     END IF;

     RETURN QUERY
       WITH inserted AS (
         INSERT INTO es_events (event_id, stream_name, stream_revision, event_type, data, metadata)
         SELECT (e.value ->> 'id')::uuid, p_stream, v_revision - v_count + e.ordinality,
                e.value ->> 'type', e.value -> 'data', coalesce(e.value -> 'metadata', '{}')
         FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e
         RETURNING es_events.seq
       )
       SELECT 'ok'::text, v_revision, pg_current_xact_id()::text, max(inserted.seq) FROM inserted;
   END $$`,
];

const migrationLockId = advisoryLocks.eventStoreMigration;

/** Applies the store schema once per database, serialized across processes. */
export async function migrateEventStore(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockId]);
    for (const statement of eventStoreSchema) await client.query(statement);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockId]).catch(() => undefined);
    client.release();
  }
}
