import { CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { uuidv7 } from 'uuidv7';
import { InteractionsMaintenance, InteractionsModule, InteractionsModuleOptions, InteractionsService } from '../../src';
import { InMemoryContactDirectory } from '../support/directories';
import { ownDatabase } from '../support/faults';
import { sharedPGlite } from '../support/pglite';

/**
 * A schema name of plain lower-case letters that is an SQL keyword (`user`, `select`) passes the name check,
 * and must then work: unquoted, `CREATE SCHEMA user` and `SET search_path TO user` were syntax errors that
 * failed the start with PostgreSQL's raw message. A keyword cannot be made unique, so each case has a
 * database of its own (on PGlite, this file's own instance).
 */
describe.each(['postgres', 'pglite'] as const)('a schema named by an SQL keyword on %s', (backend) => {
  it.each(['user', 'select'])('works as any other name: %s', async (schema) => {
    const own = backend === 'postgres' ? await ownDatabase('keyword_schema') : null;
    const pglite = own ? null : await sharedPGlite();
    const database: InteractionsModuleOptions['database'] = own ? { connectionString: own.url() } : { pglite: { instance: pglite! } };
    const contacts = new InMemoryContactDirectory();
    const contactUuid = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [CqrsModule.forRoot(), InteractionsModule.forRoot({ database, schema, contactDirectory: contacts })],
      }).compile();
      const app = await moduleRef.init();
      try {
        const service = app.get(InteractionsService);
        const created = await service.createInteraction({ contactUuid, subject: 'Hello' }, [{ rawName: 'Grace' }]);
        await app.get(InteractionsMaintenance).rebuild();
        expect(await service.getInteraction(created.uuid)).toEqual(created);
        expect((await service.history(created.uuid)).map((event) => event.type)).toEqual(['InteractionLogged', 'PartiesRebuilt']);
      } finally {
        await app.close();
      }
    } finally {
      await own?.drop();
      if (pglite) await pglite.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  }, 60_000);
});
