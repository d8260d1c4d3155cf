import { Queryable } from '../../src/ports/database';

/** Every row of the read tables, in a stable order: what "equals a full rebuild" compares. */
export async function readTables(q: Queryable): Promise<Record<string, unknown[]>> {
  const tables = {
    interactions: 'SELECT * FROM interactions ORDER BY uuid',
    parties: 'SELECT * FROM interaction_parties ORDER BY interaction_uuid, position',
    involvements: 'SELECT * FROM interaction_involvements ORDER BY contact_uuid, interaction_uuid',
  };
  const out: Record<string, unknown[]> = {};
  for (const [name, sql] of Object.entries(tables)) out[name] = (await q.query(sql, [])).rows;
  return out;
}
