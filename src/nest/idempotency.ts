import { createHash } from 'node:crypto';
import { InteractionValidationError } from '../domain/errors';
import { Queryable } from '../ports/database';

/** What a command with `opts.idempotencyKey` carries to the write side. */
export interface Idempotency {
  key: string;
  /** A hash of the command and its input, as given. */
  fingerprint: string;
}

export const IDEMPOTENCY_KEY_REUSED = 'was already used for a different request';

/** A stable hash of a command's input: object keys sorted, so key order does not matter. */
export function fingerprintOf(input: unknown): string {
  return createHash('sha256').update(stableJson(input)).digest('base64url');
}

function stableJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Binds a key to the first request's fingerprint and stream before anything is appended. Whether that
 * request landed is read from the stream (its events carry the key), so the binding needs no second
 * write and a crash between the two loses nothing. The same key with another fingerprint is refused.
 */
export async function reserveIdempotencyKey(
  db: Queryable,
  { key, fingerprint }: Idempotency,
  streamName: string,
): Promise<ReservedKey> {
  const { rows: inserted } = await db.query(
    `INSERT INTO idempotency_keys (key, fingerprint, stream_name) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO NOTHING RETURNING key`,
    [key, fingerprint, streamName],
  );
  if (inserted.length > 0) return { streamName, fresh: true, answeredEvents: null };
  const { rows } = await db.query<{ fingerprint: string; stream_name: string; answered_events: number | null }>(
    'SELECT fingerprint, stream_name, answered_events FROM idempotency_keys WHERE key = $1',
    [key],
  );
  const first = rows[0];
  // Released by a failed first request between the two statements: take it again.
  if (!first) return reserveIdempotencyKey(db, { key, fingerprint }, streamName);
  if (first.fingerprint !== fingerprint) throw new InteractionValidationError({ idempotencyKey: [IDEMPOTENCY_KEY_REUSED] });
  return { streamName: first.stream_name, fresh: false, answeredEvents: first.answered_events };
}

/** A key bound to its first request: the stream it acts on, whether this is that request, and `answeredEvents`. */
export interface ReservedKey {
  streamName: string;
  fresh: boolean;
  /** The first request changed nothing: the number of the stream's events it was answered on (`answeredWithoutEvents`). */
  answeredEvents: number | null;
}

/**
 * The request changed nothing, answered on the stream's first `events` events: no event carries its key,
 * so its repeats read this (the first answer of a key stays the one recorded).
 */
export async function answeredWithoutEvents(db: Queryable, key: string, events: number): Promise<void> {
  await db.query('UPDATE idempotency_keys SET answered_events = $2 WHERE key = $1 AND answered_events IS NULL', [key, events]);
}

/** Frees a key whose request wrote nothing (it failed): the key may be used again, for any input. */
export async function releaseIdempotencyKey(db: Queryable, key: string): Promise<void> {
  await db.query('DELETE FROM idempotency_keys WHERE key = $1', [key]);
}
