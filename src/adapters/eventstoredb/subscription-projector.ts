import { CatchUpProjector, INTERACTIONS_PROJECTION, readCheckpoint } from '../../../projections/catch-up';
import { Database } from '../../ports/database';
import { comparePositions, Position, RecordedEvent, START } from '../../ports/event-store';
import { EventStoreDbEventStore, ModuleSubscription, SubscriptionItem } from './eventstoredb-event-store';

export interface SubscriptionProjectorOptions {
  /** Most events applied in one PostgreSQL transaction; default 500. */
  batchSize?: number;
  /** Wait before resubscribing after the server went away or a batch failed: doubles from `initialMs` to `maxMs`. */
  retry?: { initialMs?: number; maxMs?: number };
  /** How often at most a checkpoint that only passes other streams' events is written; default 5 s. */
  checkpointEveryMs?: number;
  name?: string;
  /** Told about every failure before the retry (the module logs it). */
  onError?: (error: unknown) => void;
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
    let delay = this.retry.initialMs;
    while (!this.stopping.signal.aborted) {
      try {
        await this.follow(() => (delay = this.retry.initialMs));
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        this.lastError = error instanceof Error ? error.message : String(error);
        this.options.onError?.(error);
      } finally {
        this.connected = false;
        this.caughtUp = false;
      }
      if (this.stopping.signal.aborted) break;
      this.reconnects++;
      await sleep(delay, this.stopping.signal);
      delay = Math.min(delay * 2, this.retry.maxMs);
    }
  }

  /** One subscription from the checkpoint until it ends or fails. */
  private async follow(onProgress: () => void): Promise<void> {
    this.advance(await readCheckpoint(this.db, this.name));
    const subscription = this.store.subscribe(this.applied, { highWaterMark: 2 * this.batchSize });
    this.subscription = subscription;
    try {
      if (this.stopping.signal.aborted) return;
      for (;;) {
        const items = await subscription.take(this.batchSize);
        // Once stopping, what is still queued is left for the next start (it resumes at the checkpoint).
        if (items === null || this.stopping.signal.aborted) return;
        await this.handle(items);
        onProgress();
      }
    } finally {
      this.subscription = null;
      await subscription.close();
    }
  }

  private async handle(items: SubscriptionItem[]): Promise<void> {
    let batch: RecordedEvent[] = [];
    for (const item of items) {
      if (item.kind === 'event') {
        batch.push(item.event);
        continue;
      }
      await this.apply(batch);
      batch = [];
      if (item.kind === 'confirmed') this.connected = true;
      else if (item.kind === 'caught-up') this.caughtUp = true;
      else await this.passCheckpoint(item.position);
    }
    await this.apply(batch);
  }

  private async apply(batch: RecordedEvent[]): Promise<void> {
    const last = batch[batch.length - 1];
    if (!last) return;
    await this.projector.applyBatch(batch);
    // Applied now, or skipped because the checkpoint was already past them (another process applied them).
    this.advance(last.position);
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
