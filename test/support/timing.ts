/**
 * `readAll` waits for every older transaction of the whole PostgreSQL server, so a transaction of another
 * test can hold a read back for a moment: reads that must see everything poll, bounded by this.
 */
export const SETTLE_MS = 15_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
