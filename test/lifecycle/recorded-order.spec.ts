import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/**
 * README "Order": decisions about one contact apply in the order they were recorded, also when their
 * commands arrive at the same moment. Merging A into B while B is merged into C ends as one of the two
 * orders does, and as the one `lifecycle_decisions` records: A's interactions with C (A into B first),
 * or with B as subject and C as party (B into C first) — never some one way and some the other.
 */
describe.each(EVERY_STORE)('lifecycle decisions sent at once, on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeAll(async () => (m = await startModule({ backend, eventStore })));
  afterAll(() => m.close());

  it('apply in the order they were recorded: merge A into B beside merge B into C', async () => {
    for (let round = 0; round < 6; round++) {
      const [a, b, c] = ['A', 'B', 'C'].map((name) => m.newContact({ name: `${name} ${round}` })) as [string, string, string];
      const uuids: string[] = [];
      for (let k = 0; k < 4; k++) {
        uuids.push((await m.service.createInteraction({ contactUuid: a, subject: `about A ${k}` }, [{ rawName: 'Bea', contactUuid: b }])).uuid);
      }
      await Promise.all([m.service.contactsMerged(a, b), m.service.contactsMerged(b, c)]);

      const { rows } = await m.db.query<{ from_uuid: string }>(
        `SELECT payload->>'fromUuid' AS from_uuid FROM lifecycle_decisions WHERE payload->>'fromUuid' = ANY($1::text[]) ORDER BY created_at, decision_id`,
        [`{${a},${b}}`],
      );
      const aIntoBFirst = rows[0]!.from_uuid === a;
      const expected = aIntoBFirst ? { contactUuid: c, party: c } : { contactUuid: b, party: c };
      const found = await Promise.all(uuids.map((uuid) => m.service.getInteraction(uuid)));
      expect(found.map((i) => ({ contactUuid: i!.contactUuid, party: i!.parties[0]!.contactUuid }))).toEqual(uuids.map(() => expected));
      expect((await m.service.listInvolving(b)).length).toBe(aIntoBFirst ? 0 : uuids.length);
    }
  }, 60_000);
});
