import {
  Interaction,
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionUnavailableError,
  InteractionValidationError,
} from '../../src';
import * as idempotency from '../../src/nest/idempotency';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { EVENT_STORE } from '../../src/nest/tokens';
import { StreamSession, WrongExpectedVersionError } from '../../src/ports/event-store';
import { BACKENDS } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';

/** Settles every promise: the values and the errors, in order. */
async function outcomes<T>(promises: Promise<T>[]): Promise<{ values: T[]; errors: unknown[] }> {
  const settled = await Promise.allSettled(promises);
  return {
    values: settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
    errors: settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : [])),
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (_name, backend) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend })));
  afterEach(() => {
    jest.restoreAllMocks();
    return m.close();
  });

  const historyTypes = async (uuid: string) => (await m.service.history(uuid)).map((e) => e.type);

  describe('concurrent writers of one interaction', () => {
    /**
     * The store's sessions (`times` of them, or all) append nothing: another writer got there first. `lost`
     * runs at each such append (with its count), to move the clock.
     */
    function racedAppends(created: Interaction, lost: (tries: number) => void, times: 'once' | 'always'): void {
      const inner = (m.app.get(EVENT_STORE) as ErasingEventStore).inner;
      const withStream = inner.withStream.bind(inner);
      let tries = 0;
      const raced: typeof inner.withStream = (streamName, work, options) =>
        withStream(
          streamName,
          (session: StreamSession) =>
            work({
              ...session,
              appendToStream: async (_events, expected) => {
                lost(++tries);
                throw new WrongExpectedVersionError(streamName, expected, created.version + tries);
              },
            }),
          options,
        );
      const spy = jest.spyOn(inner, 'withStream');
      if (times === 'once') spy.mockImplementationOnce(raced);
      else spy.mockImplementation(raced);
    }
    const realNow = Date.now.bind(Date);
    const elevenSecondsOn = () => jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 11_000);

    it('retries a lost race for its full time, also after a first try that took longer than that', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact() });
      // This try took 11 s (a busy pool or machine), and another writer got there first.
      racedAppends(created, elevenSecondsOn, 'once');
      try {
        expect(await m.service.updateInteraction(created.uuid, { subject: 'mine' })).toMatchObject({ subject: 'mine', version: created.version + 1 });
      } finally {
        jest.restoreAllMocks();
      }
    });

    it('applies 20 concurrent updates without expectedVersion, one after the other', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact() });
      const { values, errors } = await outcomes(
        range(20).map((i) => m.service.updateInteraction(created.uuid, { metadata: { [`writer${i}`]: i } })),
      );
      expect(errors).toEqual([]);
      expect(values).toHaveLength(20);
      // Each update replaced the metadata with its own: 20 events, versions 2..21, each seen once.
      expect(new Set(values.map((v) => v.version))).toEqual(new Set(range(20).map((i) => i + 2)));
      expect((await historyTypes(created.uuid)).filter((t) => t === 'InteractionUpdated')).toHaveLength(20);
      expect((await m.service.getInteraction(created.uuid))?.version).toBe(21);
    });

    it('applies 60 concurrent updates without expectedVersion: after a lost race this process\'s writers take turns', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact() });
      const { values, errors } = await outcomes(
        range(60).map((i) => m.service.updateInteraction(created.uuid, { metadata: { [`writer${i}`]: i } })),
      );
      expect(errors).toEqual([]);
      expect(new Set(values.map((v) => v.version))).toEqual(new Set(range(60).map((i) => i + 2)));
    }, 60_000);

    it('answers a command without expectedVersion that kept losing races as unavailable (retryable), never as a conflict', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact() });
      // Every try meets another writer; the second is past the race deadline.
      racedAppends(created, (tries) => tries === 2 && elevenSecondsOn(), 'always');
      try {
        const error = await m.service.updateInteraction(created.uuid, { subject: 'mine' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InteractionUnavailableError);
        expect(error).toMatchObject({ committed: false, retryable: true });
      } finally {
        jest.restoreAllMocks();
      }
    });

    it('lets exactly one of 20 racers with the same expectedVersion win', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact() });
      const { values, errors } = await outcomes(
        range(20).map((i) =>
          m.service.updateInteraction(created.uuid, { subject: `racer ${i}` }, null, { expectedVersion: created.version }),
        ),
      );
      expect(values).toHaveLength(1);
      expect(errors).toHaveLength(19);
      for (const error of errors) expect(error).toBeInstanceOf(InteractionConflictError);
      expect((await m.service.getInteraction(created.uuid))?.subject).toBe(values[0]!.subject);
    });

    it('lets a delete race updates: no event after the delete, no spurious conflict', async () => {
      for (let round = 0; round < 3; round++) {
        const created = await m.service.createInteraction({ contactUuid: m.newContact() });
        const updates = range(8).map((i) => m.service.updateInteraction(created.uuid, { subject: `u${i}` }));
        const deletion = m.service.deleteInteraction(created.uuid);
        const { errors } = await outcomes(updates);
        await expect(deletion).resolves.toMatchObject({ uuid: created.uuid });
        for (const error of errors) expect(error).toBeInstanceOf(InteractionNotFoundError);
        const types = await historyTypes(created.uuid);
        expect(types[types.length - 1]).toBe('InteractionDeleted');
        expect(types.filter((t) => t === 'InteractionDeleted')).toHaveLength(1);
        expect(await m.service.getInteraction(created.uuid)).toBeNull();
      }
    });
  });

  describe('idempotency keys', () => {
    it('returns the first result of a repeated create and appends nothing more', async () => {
      const contactUuid = m.newContact();
      const first = await m.service.createInteraction({ contactUuid, subject: 'Once' }, [{ rawName: 'Dana' }], [], {
        idempotencyKey: 'create-1',
      });
      const again = await m.service.createInteraction({ contactUuid, subject: 'Once' }, [{ rawName: 'Dana' }], [], {
        idempotencyKey: 'create-1',
      });
      expect(again).toEqual(first);
      expect(await m.countEvents()).toBe(2);
      expect((await m.service.history(first.uuid))[0]?.metadata.idempotencyKey).toBe('create-1');
    });

    it('creates once when the same keyed create arrives ten times at once', async () => {
      const contactUuid = m.newContact();
      const { values, errors } = await outcomes(
        range(10).map(() => m.service.createInteraction({ contactUuid, subject: 'Burst' }, [], [], { idempotencyKey: 'burst' })),
      );
      expect(errors).toEqual([]);
      expect(new Set(values.map((v) => v.uuid)).size).toBe(1);
      expect(await m.countEvents()).toBe(2);
      expect(await m.service.listInvolving(contactUuid)).toHaveLength(1);
    });

    it('reads the time of a keyed create and update once: what is checked is what is fingerprinted', async () => {
      const contactUuid = m.newContact();
      // A value that reads once, then throws: a second read for the fingerprint would be a raw error.
      const once = <T extends object>(attrs: T, occurredAt: string): T => {
        let read = false;
        return Object.defineProperty({ ...attrs }, 'occurredAt', {
          enumerable: true,
          get: () => {
            if (read) throw new Error('read twice');
            read = true;
            return occurredAt;
          },
        });
      };
      const at = '2026-03-04T05:06:07Z';
      const created = await m.service.createInteraction(once({ contactUuid }, at), [], [], { idempotencyKey: 'once-c' });
      await expect(m.service.createInteraction({ contactUuid, occurredAt: at }, [], [], { idempotencyKey: 'once-c' })).resolves.toEqual(created);
      const updated = await m.service.updateInteraction(created.uuid, once({}, '2026-03-05'), undefined, { idempotencyKey: 'once-u' });
      expect(updated.occurredAt).toEqual(new Date('2026-03-05T00:00:00Z'));
      await expect(
        m.service.updateInteraction(created.uuid, { occurredAt: '2026-03-05' }, undefined, { idempotencyKey: 'once-u' }),
      ).resolves.toEqual(updated);
    });

    it('takes one instant however it is written as the same request, and a time left to default as absent', async () => {
      const contactUuid = m.newContact();
      const created = await m.service.createInteraction({ contactUuid, occurredAt: '2026-03-04T05:06:07Z' }, [], [], { idempotencyKey: 'at-c' });
      for (const occurredAt of ['2026-03-04T05:06:07.000Z', '2026-03-04T07:06:07+02:00', new Date('2026-03-04T05:06:07.400Z')]) {
        await expect(m.service.createInteraction({ contactUuid, occurredAt }, [], [], { idempotencyKey: 'at-c' })).resolves.toEqual(created);
      }
      const updated = await m.service.updateInteraction(created.uuid, { occurredAt: '2026-03-05' }, undefined, { idempotencyKey: 'at-u' });
      await expect(
        m.service.updateInteraction(created.uuid, { occurredAt: new Date('2026-03-05T00:00:00Z') }, undefined, { idempotencyKey: 'at-u' }),
      ).resolves.toEqual(updated);
      // A time left out, null or '' is now: the same request when repeated a second later, another from a given time.
      const defaulted = await m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'at-now' });
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      for (const occurredAt of [null, '']) {
        await expect(m.service.createInteraction({ contactUuid, occurredAt }, [], [], { idempotencyKey: 'at-now' })).resolves.toEqual(defaulted);
      }
      await expect(
        m.service.createInteraction({ contactUuid, occurredAt: defaulted.occurredAt }, [], [], { idempotencyKey: 'at-now' }),
      ).rejects.toMatchObject({ errors: { idempotencyKey: ['was already used for a different request'] } });
    });

    /** A promise and the function that settles it: a step of a test's interleaving. */
    const gate = () => {
      let open!: () => void;
      return { opened: new Promise<void>((resolve) => (open = resolve)), open };
    };

    it('keeps the key a repeat wrote under when the first request then fails with nothing written: a third creates nothing new', async () => {
      const contactUuid = m.newContact();
      const store = m.app.get<ErasingEventStore>(EVENT_STORE);
      const entered = gate();
      const failing = gate();
      // The first request's create cannot get a connection (a busy pool): nothing sent, committed false.
      jest.spyOn(store, 'createStream').mockImplementationOnce(async () => {
        entered.open();
        await failing.opened;
        throw new InteractionUnavailableError('PostgreSQL is unavailable: timeout exceeded when trying to connect', false);
      });
      const input = { contactUuid, subject: 'hello' };
      const first = m.service.createInteraction(input, [], [], { idempotencyKey: 'K' }).catch((e: unknown) => e);
      await entered.opened;
      const retry = m.service.createInteraction(input, [], [], { idempotencyKey: 'K' }); // the client's retry
      await new Promise((resolve) => setTimeout(resolve, 50));
      failing.open();
      expect(await first).toMatchObject({ committed: false });
      const retried = await retry;
      const third = await m.service.createInteraction(input, [], [], { idempotencyKey: 'K' });
      expect(third).toEqual(retried);
      expect(await m.service.interactionUuidsForContact(contactUuid)).toEqual([retried.uuid]);
    });

    it('answers a repeat that arrives while the first request is recording that it changed nothing with that answer', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact(), subject: 'a' });
      const entered = gate();
      const recording = gate();
      const real = idempotency.answeredWithoutEvents;
      // The first request has read the stream and decided that nothing changes; its record is a round trip away.
      jest.spyOn(idempotency, 'answeredWithoutEvents').mockImplementationOnce(async (...args) => {
        entered.open();
        await recording.opened;
        return real(...args);
      });
      const first = m.service.updateInteraction(created.uuid, { subject: 'a' }, null, { idempotencyKey: 'K' });
      await entered.opened;
      const other = await m.service.updateInteraction(created.uuid, { subject: 'b' }); // another user's edit
      const retry = m.service.updateInteraction(created.uuid, { subject: 'a' }, null, { idempotencyKey: 'K' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      recording.open();
      expect(await first).toEqual(created);
      expect(await retry).toEqual(created);
      await expect(m.service.updateInteraction(created.uuid, { subject: 'a' }, null, { idempotencyKey: 'K' })).resolves.toEqual(created);
      expect((await m.service.history(created.uuid)).filter((e) => e.metadata.idempotencyKey === 'K')).toEqual([]);
      expect(await m.service.getInteraction(created.uuid)).toEqual(other);
    });

    it('lets a repeat take over a key whose holder died once its hold lapses', async () => {
      const contactUuid = m.newContact();
      const created = await m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'held' });
      // As a process that died while holding the key leaves it.
      await m.db.query(`UPDATE idempotency_keys SET held_by = $2, held_until = now() + interval '300 milliseconds' WHERE key = $1`, [
        'held',
        '019a0000-0000-7000-8000-00000000dead',
      ]);
      await expect(m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'held' })).resolves.toEqual(created);
      const { rows } = await m.db.query<{ held_by: string | null }>('SELECT held_by FROM idempotency_keys WHERE key = $1', ['held']);
      expect(rows).toEqual([{ held_by: null }]);
    });

    it('renews the hold of a request that runs long: a repeat waits for it rather than deciding beside it', async () => {
      const contactUuid = m.newContact();
      const store = m.app.get<ErasingEventStore>(EVENT_STORE);
      const entered = gate();
      const slow = gate();
      const createStream = store.createStream.bind(store);
      jest.spyOn(store, 'createStream').mockImplementationOnce(async (...args) => {
        entered.open();
        await slow.opened;
        return createStream(...args);
      });
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'clearTimeout', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
      try {
        const first = m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'slow' });
        await entered.opened;
        // Its hold as good as lapsed: a renewal (every third of the hold) extends it.
        await m.db.query(`UPDATE idempotency_keys SET held_until = now() - interval '1 second' WHERE key = 'slow'`, []);
        jest.advanceTimersByTime(idempotency.KEY_HOLD_MS / 3);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const { rows } = await m.db.query<{ held: boolean }>(`SELECT held_until > now() AS held FROM idempotency_keys WHERE key = 'slow'`, []);
        expect(rows).toEqual([{ held: true }]);
        const repeat = m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'slow' });
        await new Promise((resolve) => setTimeout(resolve, 100));
        slow.open();
        const created = await first;
        expect(await repeat).toEqual(created);
      } finally {
        jest.useRealTimers();
      }
    });

    it('ends a hold whose taking lost its answer, so that a retry need not wait for it to lapse', async () => {
      const contactUuid = m.newContact();
      const reserve = idempotency.reserveIdempotencyKey;
      jest.spyOn(idempotency, 'reserveIdempotencyKey').mockImplementationOnce(async (...args) => {
        await reserve(...args); // taken, and then the answer is lost
        throw new InteractionUnavailableError('PostgreSQL is unavailable: Connection terminated unexpectedly', 'unknown');
      });
      await expect(m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'lost' })).rejects.toMatchObject({ committed: false });
      const started = Date.now();
      await expect(m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'lost' })).resolves.toMatchObject({ contactUuid });
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('refuses the same key with a different input, and writes nothing', async () => {
      const contactUuid = m.newContact();
      await m.service.createInteraction({ contactUuid, subject: 'A' }, [], [], { idempotencyKey: 'k' });
      const error = await m.service
        .createInteraction({ contactUuid, subject: 'B' }, [], [], { idempotencyKey: 'k' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InteractionValidationError);
      expect((error as InteractionValidationError).errors).toEqual({
        idempotencyKey: ['was already used for a different request'],
      });
      expect(await m.countEvents()).toBe(2);
    });

    it('returns the first result of a repeated update and delete, also after later changes', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact() });
      const updated = await m.service.updateInteraction(created.uuid, { subject: 'v2' }, null, { idempotencyKey: 'u' });
      await m.service.updateInteraction(created.uuid, { subject: 'v3' });
      expect(await m.service.updateInteraction(created.uuid, { subject: 'v2' }, null, { idempotencyKey: 'u' })).toEqual(updated);
      const deleted = await m.service.deleteInteraction(created.uuid, { idempotencyKey: 'd' });
      const events = await m.countEvents();
      expect(await m.service.deleteInteraction(created.uuid, { idempotencyKey: 'd' })).toEqual(deleted);
      expect(await m.countEvents()).toBe(events);
    });

    it('returns the first result of a repeated update that changed nothing, and appends nothing, also after later changes', async () => {
      const created = await m.service.createInteraction({ contactUuid: m.newContact(), subject: 'X' });
      const unchanged = await m.service.updateInteraction(created.uuid, { subject: 'X' }, null, { idempotencyKey: 'no-op' });
      expect(unchanged).toEqual(created);
      await m.service.updateInteraction(created.uuid, { subject: 'Y' });
      const events = await m.countEvents();
      expect(await m.service.updateInteraction(created.uuid, { subject: 'X' }, null, { idempotencyKey: 'no-op' })).toEqual(unchanged);
      expect(await m.countEvents()).toBe(events);
      expect(await historyTypes(created.uuid)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated']);
    });

    it('frees the key of a request that failed, and validates the key', async () => {
      const contactUuid = m.newContact();
      await expect(
        m.service.createInteraction({ contactUuid, interactionType: 'fax' as never }, [], [], { idempotencyKey: 'retry-me' }),
      ).rejects.toBeInstanceOf(InteractionValidationError);
      // The first request was refused before its key was bound: a corrected request may use it.
      await expect(m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'retry-me' })).resolves.toMatchObject({
        contactUuid,
      });
      await expect(
        m.service.updateInteraction('019a0000-0000-7000-8000-000000000000', { subject: 'x' }, null, { idempotencyKey: 'nf' }),
      ).rejects.toBeInstanceOf(InteractionNotFoundError);
      const created: Interaction = await m.service.createInteraction({ contactUuid }, [], [], { idempotencyKey: 'nf' });
      expect(created.contactUuid).toBe(contactUuid);
      for (const key of ['', 'x'.repeat(201), 'nul\u0000', 42]) {
        const error = await m.service
          .createInteraction({ contactUuid }, [], [], { idempotencyKey: key as string })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InteractionValidationError);
        expect(Object.keys((error as InteractionValidationError).errors)).toEqual(['idempotencyKey']);
      }
    });
  });
});
