import { Interaction } from '../domain/interaction';
import { isUuid } from '../domain/validation';
import { FeedCursor } from '../../projections/interactions.queries';

/**
 * Opaque page cursors for newest-first feeds: the sort key (occurredAt, insertedAt, uuid) of the last
 * interaction of a page, so the next page starts right after it even when rows are added meanwhile.
 */
export function feedCursorOf(interaction: Pick<Interaction, 'occurredAt' | 'insertedAt' | 'uuid'>): string {
  const key = [interaction.occurredAt.getTime(), interaction.insertedAt.getTime(), interaction.uuid];
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** null when the text is not a cursor this module wrote. */
export function parseFeedCursor(text: string): FeedCursor | null {
  try {
    const key: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(key) || key.length !== 3) return null;
    const [occurredAt, insertedAt, uuid] = key as unknown[];
    if (!Number.isSafeInteger(occurredAt) || !Number.isSafeInteger(insertedAt) || !isUuid(uuid)) return null;
    return { occurredAt: new Date(occurredAt as number), insertedAt: new Date(insertedAt as number), uuid };
  } catch {
    return null;
  }
}
