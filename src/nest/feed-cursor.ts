import { Interaction } from '../domain/interaction';
import { isStorableDate } from '../domain/storable';
import { normaliseUuid } from '../domain/validation';
import { FeedCursor } from '../../projections/interactions.queries';

/**
 * Opaque page cursors for newest-first feeds: the sort key (occurredAt, insertedAt, uuid) of the last
 * interaction of a page, so the next page starts right after it even when rows are added meanwhile.
 */
export function feedCursorOf(interaction: Pick<Interaction, 'occurredAt' | 'insertedAt' | 'uuid'>): string {
  const key = [interaction.occurredAt.getTime(), interaction.insertedAt.getTime(), interaction.uuid];
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The longest cursor `feedCursorOf` writes is about 110 characters; anything much longer is not one. */
const MAX_CURSOR_LENGTH = 512;

/** null when the text is not a cursor this module wrote (also for timestamps outside the years 0001–9999). */
export function parseFeedCursor(text: unknown): FeedCursor | null {
  if (typeof text !== 'string' || text.length > MAX_CURSOR_LENGTH) return null;
  try {
    const key: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(key) || key.length !== 3) return null;
    const [occurredAt, insertedAt, uuid] = key as unknown[];
    if (!Number.isSafeInteger(occurredAt) || !Number.isSafeInteger(insertedAt)) return null;
    const cursor = { occurredAt: new Date(occurredAt as number), insertedAt: new Date(insertedAt as number), uuid: normaliseUuid(uuid) };
    if (!isStorableDate(cursor.occurredAt) || !isStorableDate(cursor.insertedAt) || cursor.uuid === null) return null;
    return { ...cursor, uuid: cursor.uuid };
  } catch {
    return null;
  }
}
