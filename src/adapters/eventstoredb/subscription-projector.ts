import { CatchUpProjector, INTERACTIONS_PROJECTION, readCheckpoint } from '../../../projections/catch-up';
import { Database } from '../../ports/database';
import { comparePositions, Position, RecordedEvent, START } from '../../ports/event-store';
import { EventStoreDbEventStore, ModuleSubscription, SubscriptionItem } from './eventstoredb-event-store';

export interface SubscriptionProjectorOptions {
  /** Most events applied in one PostgreSQL transaction; default 500. */
  batchSize?: number;
  /**
   * Wait before resubscribing after the server went away or a batch failed: doubles from `initialMs` up
   * to `maxMs` with each failure in a row, with jitter (see `backoffDelay`); back to `initialMs` only
   * once a batch has been applied.
   */
  retry?: { initialMs?: number; maxMs?: number };
  /** The jitter's source of randomness, [0, 1); default Math.random (tests pin it). */
  random?: () => number;
  /** How often at most a checkpoint that only passes other streams' events is written; default 5 s. */
  checkpointEveryMs?: number;
  name?: string;
  /**
   * Turns events as the server holds them into what the projection reads (the module opens sealed
   * personal fields: src/adapters/erasure); default: as they are.
   */
  open?: (events: RecordedEvent[]) => Promise<RecordedEvent[]>;
  /** Told about every failure before the retry (the module logs it), with the wait before that retry. */
  onError?: (error: unknown, retry: { attempt: number; delayMs: number }) => void;
}

/**
 * The wait before retry number `attempt` (1, 2, …): `initialMs` doubled per earlier attempt, capped at
 * `maxMs`, of which a random half is taken off ("equal jitter"), so that many instances that lost the
 * server together do not all come back in the same millisecond, and the wait still grows.
 */
export function backoffDelay(attempt: number, retry: { initialMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export interface ProjectionStatus {
  running: boolean;
  /** A subscription is open and confirmed by the server. */
  connected: boolean;
  /** The subscription reached the head of the log since it last (re)connected. */
  caughtUp: boolean;
  /** The read tables include every module event up to here. */
  position: Position;
  reconnects: number;
  lastError: string | null;
}

export type WaitOutcome = 'reached' | 'timeout' | 'stopped';

interface Waiter {
  position: Position;
  settle: (outcome: WaitOutcome) => void;
}

/**
 * Keeps the read tables in step with an EventStoreDB log: a catch-up subscription to `$all` with the
 * module's prefix filter, starting after the stored checkpoint. Events are applied in batches through
 * `CatchUpProjector.applyBatch`, which commits the read-table writes and the new checkpoint in one
 * PostgreSQL transaction and skips anything at or before the checkpoint; so a crash or a restart at any
 * moment neither loses an event nor applies one twice. A batch is whatever arrived while the previous one
 * was being applied (at most `batchSize`), so it grows with the load. When the server goes away, or a
 * batch fails, the subscription is dropped and reopened from the checkpoint with exponential back-off.
 */
export class SubscriptionProjector {
  private readonly projector: CatchUpProjector;
  private readonly batchSize: number;
  private readonly retry: { initialMs: number; maxMs: number };
  private readonly checkpointEveryMs: number;
  private readonly name: string;

  private applied: Position = START;
  private waiters: Waiter[] = [];
  private loop: Promise<void> | null = null;
  private subscription: ModuleSubscription | null = null;
  private readonly stopping = new AbortController();
  private connected = false;
  private caughtUp = false;
  private reconnects = 0;
  private lastError: string | null = null;
  private lastCheckpointWrite = 0;

  constructor(
    private readonly db: Database,
    private readonly store: EventStoreDbEventStore,
    private readonly options: SubscriptionProjectorOptions = {},
  ) {
    this.name = options.name ?? INTERACTIONS_PROJECTION;
    this.projector = new CatchUpProjector(db, store, this.name);
    this.batchSize = options.batchSize ?? 500;
    this.retry = { initialMs: options.retry?.initialMs ?? 100, maxMs: options.retry?.maxMs ?? 5000 };
    this.checkpointEveryMs = options.checkpointEveryMs ?? 5000;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Finishes the batch in hand, closes the subscription; waiting appends learn it stopped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.subscription?.close();
    await this.loop;
    for (const waiter of this.waiters.splice(0)) waiter.settle('stopped');
  }

  status(): ProjectionStatus {
    return {
      running: this.loop !== null && !this.stopping.signal.aborted,
      connected: this.connected,
      caughtUp: this.caughtUp,
      position: this.applied,
      reconnects: this.reconnects,
      lastError: this.lastError,
    };
  }

  /** Resolves once the read tables include everything up to `position`, or after `timeoutMs`. */
  waitFor(position: Position, timeoutMs: number): Promise<WaitOutcome> {
    if (comparePositions(this.applied, position) >= 0) return Promise.resolve('reached');
    if (this.stopping.signal.aborted) return Promise.resolve('stopped');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        position,
        settle: (outcome) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(outcome);
        },
      };
      const timer = setTimeout(() => waiter.settle('timeout'), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async run(): Promise<void> {
    // Failures since a batch was last applied: a subscription that connects, is confirmed and fails again
    // (a batch that cannot be written, a server that drops every call) keeps backing off.
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      let failure: unknown = null;
      try {
        await this.follow(() => (attempt = 0));
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        failure = error;
        this.lastError = error instanceof Error ? error.message : String(error);
      } finally {
        this.connected = false;
        this.caughtUp = false;
      }
      if (this.stopping.signal.aborted) break;
      attempt++;
      const delayMs = backoffDelay(attempt, this.retry, this.options.random);
      if (failure !== null) this.options.onError?.(failure, { attempt, delayMs });
      this.reconnects++;
      await sleep(delayMs, this.stopping.signal);
    }
  }

  /** One subscription from the checkpoint until it ends or fails; `onApplied` after each applied batch. */
  private async follow(onApplied: () => void): Promise<void> {
    this.advance(await readCheckpoint(this.db, this.name));
    const subscription = this.store.subscribe(this.applied, { highWaterMark: 2 * this.batchSize });
    this.subscription = subscription;
    try {
      if (this.stopping.signal.aborted) return;
      for (;;) {
        const items = await subscription.take(this.batchSize);
        // Once stopping, what is still queued is left for the next start (it resumes at the checkpoint).
        if (items === null || this.stopping.signal.aborted) return;
        if ((await this.handle(items)) > 0) onApplied();
      }
    } finally {
      this.subscription = null;
      await subscription.close();
    }
  }

  /** Returns how many events it applied (parked ones included: they are dealt with). */
  private async handle(items: SubscriptionItem[]): Promise<number> {
    let batch: RecordedEvent[] = [];
    let applied = 0;
    for (const item of items) {
      if (item.kind === 'event') {
        batch.push(item.event);
        continue;
      }
      applied += await this.apply(batch);
      batch = [];
      if (item.kind === 'confirmed') this.connected = true;
      else if (item.kind === 'caught-up') this.caughtUp = true;
      else await this.passCheckpoint(item.position);
    }
    return applied + (await this.apply(batch));
  }

  private async apply(batch: RecordedEvent[]): Promise<number> {
    const last = batch[batch.length - 1];
    if (!last) return 0;
    // Poison events are parked by the projection, never thrown: only the database failing fails a batch.
    const applied = await this.projector.applyBatch(this.options.open ? await this.options.open(batch) : batch);
    // Applied now, or skipped because the checkpoint was already past them (another process applied them).
    this.advance(last.position);
    return applied;
  }

  /** Everything before a server checkpoint has been applied: remember it, and now and then store it. */
  private async passCheckpoint(position: Position): Promise<void> {
    if (comparePositions(position, this.applied) <= 0) return;
    if (Date.now() - this.lastCheckpointWrite >= this.checkpointEveryMs) {
      await this.projector.advanceTo(position);
      this.lastCheckpointWrite = Date.now();
    }
    this.advance(position);
  }

  private advance(position: Position): void {
    if (comparePositions(position, this.applied) <= 0) return;
    this.applied = position;
    for (const waiter of [...this.waiters]) {
      if (comparePositions(waiter.position, position) <= 0) waiter.settle('reached');
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
