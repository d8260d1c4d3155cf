import { Queryable } from '../../src/ports/database';
import { EventStore, Position, START } from '../../src/ports/event-store';

/**
 * What an operator's dump would show: every row of every table of the module's schema as text (table
 * names from the catalogue, so a table added later is searched too).
 */
export async function dumpSchema(q: Queryable, schema: string): Promise<Record<string, string>> {
  const { rows: tables } = await q.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [schema],
  );
  const dump: Record<string, string> = {};
  for (const { table_name: table } of tables) {
    // Names from the catalogue, quoted: not input.
    const { rows } = await q.query<{ row: string }>(`SELECT t::text AS row FROM "${schema}"."${table}" t`, []);
    dump[table] = rows.map((r) => r.row).join('\n');
  }
  return dump;
}

/** Every module event the log holds, as stored (data and metadata), as text. */
export async function dumpLog(log: EventStore, from: Position = START): Promise<string> {
  const lines: string[] = [];
  for await (const batch of log.readAll(from)) {
    for (const event of batch) lines.push(JSON.stringify({ type: event.type, data: event.data, metadata: event.metadata }));
  }
  return lines.join('\n');
}

/** The needles found in the haystacks (case ignored), as `where: needle`. */
export function findIn(haystacks: Record<string, string>, needles: readonly string[]): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(haystacks)) {
    const lower = text.toLowerCase();
    for (const needle of needles) if (lower.includes(needle.toLowerCase())) found.push(`${where}: ${needle}`);
  }
  return found;
}
