import { NestFactory } from '@nestjs/core';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { uuidv7 } from 'uuidv7';
import { InteractionsModule, InteractionsService } from '../../src';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { recordDecision } from '../../src/lifecycle/decision-store';
import { InMemoryContactDirectory } from '../support/directories';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../../bin/crm-interactions.js');

/**
 * `crm-interactions resume` finishes a decision a process recorded and never fanned out; `audit` shows why;
 * `forget` erases.
 */
describe('crm-interactions resume', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-interactions-resume-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const cli = async (...args: string[]) =>
    (await run(process.execPath, [BIN, ...args], { env: { ...process.env, PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', KURRENTDB_URL: '' } })).stdout;

  it('finishes a pending decision, then finds nothing left', async () => {
    const contacts = new InMemoryContactDirectory();
    const gone = contacts.add({ uuid: uuidv7(), name: 'Gone' }).uuid;
    const actor = uuidv7();
    const app = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({ database: { pglite: { dataDir } }, contactDirectory: contacts, resumeLifecycleOnStart: false }),
      { logger: false },
    );
    const service = app.get(InteractionsService);
    const own = await service.createInteraction({ contactUuid: gone, subject: 'own' });
    const other = await service.createInteraction({ contactUuid: contacts.add({ uuid: uuidv7() }).uuid }, [{ rawName: 'Gone', contactUuid: gone }]);
    await app.close();

    // Recorded, as a process that died right after recording would leave it.
    const db = await PGliteDatabase.open({ dataDir, schema: 'crm_interactions' });
    const decision = { decisionId: uuidv7(), kind: 'contact_deleted' as const, contactUuid: gone };
    await recordDecision(db, { decision, actorUuid: actor, correlationId: decision.decisionId, completed: false, interactions: null }, { key: null, fingerprint: 'f' });
    await db.close();

    expect(await cli('resume')).toBe('finished 1 pending decision(s), 2 interaction(s)\n');
    expect(await cli('resume')).toBe('no pending decisions\n');
    const audit = await cli('audit', own.uuid);
    expect(audit).toMatch(new RegExp(`InteractionDeleted\\s+${actor}\\s+deleted \\(contact_deleted\\)`));
    expect(await cli('audit', other.uuid)).toMatch(/PartiesUnlinked\s+\S+\s+contact_deleted: parties \[Gone → unlinked\]/);

    // Then forgotten: the unlinked party's name goes too, in the audit of every event.
    expect(await cli('forget', gone.toUpperCase(), '--actor', actor)).toBe(`forgot contact ${gone}: 1 interaction(s) changed\n`);
    const audit2 = await cli('audit', other.uuid);
    expect(audit2).not.toMatch(/Gone/);
    expect(audit2).toMatch(new RegExp(`PartiesUnlinked\\s+${actor}\\s+contact_forgotten`));
    await expect(cli('forget', 'nope')).rejects.toMatchObject({ stderr: expect.stringMatching(/contactUuid.*is not a valid UUID/) });
    // A new PGlite folder (initdb) and nine PGlite starts, seven of them CLI processes: ~25 s alone, and past
    // 60 s once in a loaded CI run.
  }, 180_000);
});
