import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { uuidv7 } from 'uuidv7';
import { PGliteDatabase } from '../../src/adapters/pglite/database';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../../bin/crm-interactions.js');

/**
 * A host's upcasters (its `upcasters` option) live in the host's process: the CLI, another process, parked
 * the events they upcast on `rebuild` and could not apply them on `parked retry`. CRM_INTERACTIONS_UPCASTERS
 * gives it the same links.
 */
describe('crm-interactions CLI with the host’s upcasters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crm-interactions-cli-upcasters-'));
  const dataDir = join(dir, 'data');
  const upcasters = join(dir, 'upcasters.js');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function cli(env: Record<string, string>, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
        env: { ...process.env, PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', KURRENTDB_URL: '', CRM_INTERACTIONS_SCHEMA: '', DEBUG: '', ...env },
      });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const failed = error as { stdout: string; stderr: string; code: number };
      return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
    }
  }

  it('rebuilds and retries with them, so nothing the host reads stays parked', async () => {
    // A host's link: its v0 InteractionUpdated called the type `kind`.
    writeFileSync(
      upcasters,
      `exports.upcasters = [{ eventType: 'InteractionUpdated', fromVersion: 0,
        upcast: ({ changes: { kind, ...changes }, ...rest }) => ({ ...rest, schemaVersion: 1, changes: { ...changes, interactionType: kind } }) }];`,
    );
    expect((await cli({}, 'migrate')).code).toBe(0);
    const uuid = uuidv7();
    const stream = `interaction-${uuid}`;
    const metadata = JSON.stringify({ actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: '2026-04-01T10:00:00.000Z' });
    const logged = {
      schemaVersion: 1, interactionUuid: uuid, contactUuid: uuidv7(), interactionType: 'call', occurredAt: '2026-04-01T09:00:00Z',
      subject: 'Old', body: null, ownerUserUuid: null, metadata: {}, fileUuids: [],
    };
    const updatedV0 = { schemaVersion: 0, interactionUuid: uuid, changes: { kind: 'email' } };
    const db = await PGliteDatabase.open({ dataDir, schema: 'crm_interactions' });
    try {
      await db.query(
        `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
         VALUES ($1, $3, 0, 'InteractionLogged', $4::jsonb, $6::jsonb), ($2, $3, 1, 'InteractionUpdated', $5::jsonb, $6::jsonb)`,
        [uuidv7(), uuidv7(), stream, JSON.stringify(logged), JSON.stringify(updatedV0), metadata],
      );
    } finally {
      await db.close();
    }

    // Without the host's links: parked, and a retry cannot apply it.
    expect((await cli({}, 'rebuild')).code).toBe(0);
    expect((await cli({}, 'parked', 'retry')).stdout).toBe('applied 0, still parked 1\n');
    // With them: the retry applies it, a rebuild parks nothing, audit and as-of read it.
    const withLinks = { CRM_INTERACTIONS_UPCASTERS: upcasters };
    expect((await cli(withLinks, 'parked', 'retry')).stdout).toBe('applied 1, still parked 0\n');
    expect((await cli(withLinks, 'rebuild')).code).toBe(0);
    expect((await cli(withLinks, 'parked')).stdout).toBe('no parked events\n');
    expect((await cli(withLinks, 'audit', uuid)).stdout).toContain('interactionType: "call" → "email"');
    expect(JSON.parse((await cli(withLinks, 'as-of', uuid, '2026-04-02T00:00:00Z')).stdout)).toMatchObject({ interactionType: 'email', version: 1 });

    const missing = await cli({ CRM_INTERACTIONS_UPCASTERS: join(dir, 'nope.js') }, 'stats');
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(/^crm-interactions: CRM_INTERACTIONS_UPCASTERS: cannot load .*nope\.js: Cannot find module .*\n$/);
  }, 120_000);
});
