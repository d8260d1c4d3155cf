import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InteractionUnavailableError, InteractionValidationError } from '../domain/errors';
import { Queryable } from '../ports/database';

/** What a command with `opts.idempotencyKey` carries to the write side. */
export interface Idempotency {
  key: string;
  /** A hash of the command and its input, as given. */
  fingerprint: string;
}

export const IDEMPOTENCY_KEY_REUSED = 'was already used for a different request';

/**
 * The fingerprint of a key a forget reached (`forgetFingerprints`): the request can no longer be told from
 * another, so every request with the key is refused as another request's (none is answered with what may
 * be another interaction, nor decided under it).
 */
const FORGOTTEN_FINGERPRINT = 'forgotten';

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

/** How long a hold lasts unless renewed: a repeat waits for its holder, or this long after the holder died. */
export const KEY_HOLD_MS = 30_000;

/**
 * Binds a key to the first request's fingerprint and stream before anything is appended, and holds it
 * for this request (`holder`) until `releaseIdempotencyKey`. Whether a request landed is read from the
 * stream (its events carry the key), so the binding needs no second write and a crash between the two
 * loses nothing. A repeat waits while another request of the key runs: it then reads what that one
 * wrote (or recorded, `answeredWithoutEvents`) and answers the same, never deciding beside it. The
 * same key with another fingerprint is refused.
 */
export async function reserveIdempotencyKey(
  db: Queryable,
  { key, fingerprint }: Idempotency,
  streamName: string,
  holder: string,
): Promise<ReservedKey> {
  for (let attempt = 0; ; attempt++) {
    // A hold taken over from a holder still named is a lapsed one: that request may have landed unpublished.
    // One key, one request, whatever the command: a key a lifecycle decision holds is not bound here, also one
    // bound at this moment (`key_free_of_other_kind`, migration 0024: the key's lock, then a fresh look).
    const { rows } = await db.query<{ stream_name: string; answered_events: number | null; fresh: boolean; unpublished: boolean }>(
      `INSERT INTO idempotency_keys (key, fingerprint, stream_name, held_by, held_until)
       SELECT $1, $2, $3, $4, now() + make_interval(secs => $5)
       WHERE key_free_of_other_kind('interaction', $1)
       ON CONFLICT (key) DO UPDATE SET held_by = EXCLUDED.held_by, held_until = EXCLUDED.held_until,
           unpublished = idempotency_keys.unpublished OR idempotency_keys.held_by IS NOT NULL
         WHERE idempotency_keys.fingerprint = EXCLUDED.fingerprint
           AND (idempotency_keys.held_by IS NULL OR idempotency_keys.held_until < now())
       RETURNING stream_name, answered_events, xmax = 0 AS fresh, unpublished`,
      [key, fingerprint, streamName, holder, KEY_HOLD_MS / 1000],
    );
    const taken = rows[0];
    if (taken) {
      return { streamName: taken.stream_name, fresh: taken.fresh, answeredEvents: taken.answered_events, unpublished: taken.unpublished };
    }
    // A lifecycle decision's key reads as another request's ('' is no fingerprint).
    const { rows: first } = await db.query<{ fingerprint: string }>(
      `SELECT fingerprint FROM idempotency_keys WHERE key = $1 UNION ALL SELECT '' FROM lifecycle_decisions WHERE idempotency_key = $1`,
      [key],
    );
    if (first[0] && first[0].fingerprint !== fingerprint) {
      throw new InteractionValidationError({ idempotencyKey: [IDEMPOTENCY_KEY_REUSED] });
    }
    // Held by another request of the same input (or freed meanwhile: then taken on the next turn).
    await sleep(Math.min(5 * 2 ** attempt, 100));
  }
}

/** A key bound to its first request: the stream it acts on, whether this is that request, and `answeredEvents`. */
export interface ReservedKey {
  streamName: string;
  fresh: boolean;
  /** The first request changed nothing: the number of the stream's events it was answered on (`answeredWithoutEvents`). */
  answeredEvents: number | null;
  /** An earlier request of the key may have landed without publishing its events (`KeyRelease` 'unresolved', a lapsed hold). */
  unpublished: boolean;
}

/**
 * The request changed nothing, answered on the stream's first `events` events: no event carries its key,
 * so its repeats read this (the first answer of a key stays the one recorded).
 */
export async function answeredWithoutEvents(db: Queryable, key: string, events: number): Promise<void> {
  await db.query('UPDATE idempotency_keys SET answered_events = $2 WHERE key = $1 AND answered_events IS NULL', [key, events]);
}

/**
 * Forgetting: the fingerprints of the requests that acted on the stream go. Each is a hash of a request
 * whose every other input the dump holds (the stream, her uuid), so a list of guessed names would confirm
 * hers. The keys stay bound to the stream; a request with one of them is refused from then on.
 */
export async function forgetFingerprints(db: Queryable, streamName: string): Promise<void> {
  await db.query('UPDATE idempotency_keys SET fingerprint = $2 WHERE stream_name = $1 AND fingerprint <> $2', [streamName, FORGOTTEN_FINGERPRINT]);
}

/** Whether an interaction command's request holds the key (a lifecycle command's is refused then). */
export async function keyBound(db: Queryable, key: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).rows.length > 0;
}

/** Extends the request's hold on its key by `KEY_HOLD_MS` (every third of it while the request runs). */
export async function renewIdempotencyHold(db: Queryable, key: string, holder: string): Promise<void> {
  await db.query('UPDATE idempotency_keys SET held_until = now() + make_interval(secs => $3) WHERE key = $1 AND held_by = $2', [
    key,
    holder,
    KEY_HOLD_MS / 1000,
  ]);
}

/**
 * How a request ends its hold on its key:
 * - `free`: it failed, and nothing is written under the key (it took the key new, or read the stream
 *   without finding it): the key goes, and may be used again, for any input;
 * - `published`: every event written under the key has been published (its own, or a repeat's it found);
 * - `unresolved`: its append's outcome stayed unknown: it may land unpublished;
 * - `kept`: none of these (a failure that wrote nothing under a key bound before): as it was.
 */
export type KeyRelease = 'free' | 'published' | 'unresolved' | 'kept';

/**
 * Ends the request's hold on its key (`KeyRelease`). A hold another request took over (this one's
 * lapsed: its renewals failed) is left to that one.
 */
export async function releaseIdempotencyKey(db: Queryable, key: string, holder: string, ending: KeyRelease): Promise<void> {
  const [release, params] =
    ending === 'free'
      ? ['DELETE FROM idempotency_keys WHERE key = $1 AND held_by = $2', [key, holder]]
      : [
          `UPDATE idempotency_keys SET held_by = NULL, held_until = NULL, unpublished = coalesce($3, unpublished)
           WHERE key = $1 AND held_by = $2`,
          [key, holder, ending === 'kept' ? null : ending === 'unresolved'],
        ];
  // A release lost with its connection is sent again (it changes nothing twice): left, the hold would keep
  // every repeat of the key waiting until it lapses, though the request is over.
  for (let attempt = 0; ; attempt++) {
    try {
      await db.query(release, params);
      return;
    } catch (error) {
      if (!(error instanceof InteractionUnavailableError) || attempt >= RELEASE_RETRIES_MS.length) throw error;
      await sleep(RELEASE_RETRIES_MS[attempt]!);
    }
  }
}

/** Events of the key that a request ended `unresolved` left unpublished were published after all (`UnknownOutcomes`). */
export async function markKeyPublished(db: Queryable, key: string): Promise<void> {
  await db.query('UPDATE idempotency_keys SET unpublished = false WHERE key = $1', [key]);
}

/** The pauses before a lost release is sent again. */
const RELEASE_RETRIES_MS = [20, 100, 500];
