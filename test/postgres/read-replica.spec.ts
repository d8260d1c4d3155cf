import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance, InteractionsModule, InteractionsService } from '../../src';
import { InteractionsModuleOptions } from '../../src/nest/options';
import { InMemoryContactDirectory } from '../support/directories';
import { ReplicatedPair, startReplicatedPair } from '../support/replica';

/**
 * `database.readReplica` on a real streaming-replication pair of the test's own (a primary and a hot
 * standby): with the standby's replay paused, what a query answers shows which server it asked.
 */
describe('database.readReplica', () => {
  const contacts = new InMemoryContactDirectory();
  const ada = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
  const grace = contacts.add({ uuid: uuidv7(), name: 'Grace' }).uuid;
  let pair: ReplicatedPair;
  let app: INestApplicationContext;
  let service: InteractionsService;

  const boot = async (database: InteractionsModuleOptions['database']): Promise<INestApplicationContext> => {
    const moduleRef = await Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database, contactDirectory: contacts, countsCompactionMs: false })],
    }).compile();
    return moduleRef.init();
  };

  beforeAll(async () => {
    pair = await startReplicatedPair();
    app = await boot({ connectionString: pair.primaryUrl, readReplica: { connectionString: pair.standbyUrl } });
    service = app.get(InteractionsService);
    await pair.caughtUp(); // the migrations the primary ran
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await pair?.stop();
  });

  it('queries read the replica; commands, their results and the history read the primary', async () => {
    const seen = await service.createInteraction({ contactUuid: ada, subject: 'seen' }, [{ rawName: 'Grace', contactUuid: grace }]);
    await pair.caughtUp();
    expect(await service.getInteraction(seen.uuid)).toMatchObject({ subject: 'seen', version: 1 });

    await pair.pauseReplay();
    try {
      const created = await service.createInteraction({ contactUuid: ada, subject: 'not replayed yet' });
      expect(created).toMatchObject({ subject: 'not replayed yet', version: 1 });
      // The write side reads the stream on the primary: an update of what the replica has not seen works.
      const updated = await service.updateInteraction(created.uuid, { subject: 'edited' }, null, { expectedVersion: 1 });
      expect(updated).toMatchObject({ subject: 'edited', version: 2 });
      expect((await service.history(created.uuid)).map((event) => event.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated']);

      expect(await service.getInteraction(created.uuid)).toBeNull();
      expect((await service.listInvolving(ada)).map((i) => i.uuid)).toEqual([seen.uuid]);
      expect((await service.countInvolving(ada)).total).toBe(1);
      expect(await service.listRecent()).toHaveLength(1);

      const health = await app.get(InteractionsMaintenance).health();
      expect(health).toMatchObject({ status: 'ok', database: { up: true }, readReplica: { up: true } });
      expect(health.readReplica!.lagSeconds).toEqual(expect.any(Number));
    } finally {
      await pair.resumeReplay();
    }
    await pair.caughtUp();
    expect((await service.listInvolving(ada)).map((i) => i.subject)).toEqual(expect.arrayContaining(['seen', 'edited']));
    expect((await service.countInvolving(ada)).total).toBe(2);
    expect((await app.get(InteractionsMaintenance).health()).readReplica).toEqual({ up: true, lagSeconds: 0 });
  }, 60_000);

  it('a replica out of reach fails the start naming it, and leaves no connection to the primary open', async () => {
    const applicationName = `crm-replica-test-${process.pid}`;
    const primary = new URL(pair.primaryUrl);
    primary.searchParams.set('application_name', applicationName);
    const start = boot({ connectionString: primary.toString(), readReplica: { connectionString: 'postgres://postgres@127.0.0.1:1/test' } });
    await expect(start).rejects.toThrow(/^InteractionsModule: could not open the read replica, PostgreSQL 127\.0\.0\.1:1\/test: .*ECONNREFUSED/);

    const client = new Client({ connectionString: pair.primaryUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      expect(rows[0]).toEqual({ n: 0 });
    } finally {
      await client.end();
    }
  }, 60_000);

  it('refuses a readReplica without a connection string', async () => {
    await expect(boot({ connectionString: pair.primaryUrl, readReplica: {} as { connectionString: string } })).rejects.toThrow(
      'InteractionsModule: database.readReplica.connectionString is required',
    );
  });

  it('a replica that goes away fails the queries, not the commands, and health says degraded', async () => {
    const own = await startReplicatedPair(); // its standby does not come back
    let ownApp: INestApplicationContext | undefined;
    try {
      ownApp = await boot({ connectionString: own.primaryUrl, readReplica: { connectionString: own.standbyUrl } });
      const ownService = ownApp.get(InteractionsService);
      await own.stopStandby();
      const created = await ownService.createInteraction({ contactUuid: ada, subject: 'while the replica is away' });
      expect(created.version).toBe(1);
      await expect(ownService.listInvolving(ada)).rejects.toMatchObject({ name: 'InteractionUnavailableError' });
      const health = await ownApp.get(InteractionsMaintenance).health();
      expect(health).toMatchObject({ status: 'degraded', database: { up: true }, readReplica: { up: false, error: expect.any(String) } });
    } finally {
      await ownApp?.close();
      await own.stop();
    }
  }, 90_000);
});
