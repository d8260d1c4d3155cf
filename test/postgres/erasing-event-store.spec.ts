import { uuidv7 } from 'uuidv7';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { Queryable } from '../../src/ports/database';
import { AppendResult, EventStore, EventToAppend, RecordedEvent, StreamSession } from '../../src/ports/event-store';
import { migratedDatabase } from '../support/backends';
import { eventMetadata, loggedData } from '../support/poison';

/**
 * A log outside the module's database, as EventStoreDB is: no transaction, and a subscription in the same
 * process that opens what an append is still writing. `hold` keeps the next append from answering.
 */
class MemoryLog implements EventStore {
  readonly events: RecordedEvent[] = [];
  hold: Promise<void> | null = null;

  withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>): Promise<T> {
    return work({ tx: null, readStream: () => this.readStream(streamName), appendToStream: (events) => this.appendToStream(streamName, events) });
  }
  async appendToStream(streamName: string, events: EventToAppend[]): Promise<AppendResult> {
    const first = this.events.filter((e) => e.streamName === streamName).length;
    const recorded = events.map((e, i): RecordedEvent => {
      const position = BigInt(this.events.length + i);
      return { ...e, streamName, revision: first + i, position: { commit: position, prepare: position } } as RecordedEvent;
    });
    this.events.push(...recorded); // in the log, as a subscription sees it, before the append answers
    await this.hold;
    return { nextRevision: first + events.length - 1, position: recorded[recorded.length - 1]!.position, events: recorded };
  }
  async readStream(streamName: string): Promise<RecordedEvent[]> {
    return this.events.filter((e) => e.streamName === streamName);
  }
  async *readAll(): AsyncIterable<RecordedEvent[]> {
    yield this.events;
  }
  async headPosition(): Promise<RecordedEvent['position']> {
    return this.events[this.events.length - 1]!.position;
  }
  async close(): Promise<void> {}
}

const logged = (subject: string): [string, EventToAppend[]] => {
  const uuid = uuidv7();
  return [`interaction-${uuid}`, [{ id: uuidv7(), type: 'InteractionLogged', data: loggedData(uuid, subject), metadata: eventMetadata() }]];
};

describe('ErasingEventStore.open', () => {
  it('opens an event whose append ends while its batch is being opened (it never reads as erased)', async () => {
    const { db, cleanup } = await migratedDatabase();
    try {
      const log = new MemoryLog();
      const store = new ErasingEventStore(log, db);
      await store.appendToStream(...logged('Earlier call'), 'no_stream');

      // The subscription's batch: an earlier event (its key must be fetched) and one still being appended.
      let answer!: () => void;
      log.hold = new Promise((resolve) => (answer = resolve));
      const [stream, events] = logged('Call in flight');
      const appending = store.appendToStream(stream, events, 'no_stream');
      while (log.events.length < 2) await new Promise((resolve) => setImmediate(resolve));

      // The append answers while the batch's keys are being fetched.
      const racing: Queryable = {
        query: async (sql, params) => {
          answer();
          await appending;
          return db.query(sql, params);
        },
      } as Queryable;
      const opened = await store.open([...log.events], racing);
      expect(opened.map((e) => (e.data as { subject: string }).subject)).toEqual(['Earlier call', 'Call in flight']);
    } finally {
      await cleanup();
    }
  });
});
