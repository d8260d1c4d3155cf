import { CatchUpProjector, INTERACTIONS_PROJECTION, readCheckpoint } from '../../../projections/catch-up';
import { Database } from '../../ports/database';
import { comparePositions, Position, RecordedEvent, START } from '../../ports/event-store';
import { LeaseTerm, ProjectionLease } from '../../ports/projection-lease';
import { EventStoreDbEventStore, ModuleSubscription, SubscriptionItem } from './eventstoredb-event-store';
import { errorText } from '../../domain/errors';
import type { ProjectionStatus, WaitOutcome } from '../../ports/projection';

export type { ProjectionStatus, WaitOutcome };

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
  /**
   * Apply the projection only while holding this lease (several instances of the host on one database:
   * one applies, the others follow; see `ProjectionLease`). Without one, this projector always applies.
   * Also settable with `useLease` before `start`.
   */
  lease?: ProjectionLease;
  /** How often an instance without the lease tries to take it; default 1 s. */
  leaseRetryMs?: number;
  /** How often a waiting instance without the lease reads the stored checkpoint; default 20 ms. */
  checkpointPollMs?: number;
  /**
   * How long a lease holder keeps the lease while its subscription fails without a break (the event store
   * out of its reach alone, say): then it gives the lease up for another instance to try, and asks for it
   * again only after twice `leaseRetryMs`; default 10 s.
   */
  resignAfterMs?: number;
  /** Told when the lease is taken, lost or given up, and when trying to take it fails (once per series of failures). */
  onLease?: (event: LeaseEvent) => void;
}

export type LeaseEvent =
  | { kind: 'acquired' }
  | { kind: 'lost'; reason: unknown }
  | { kind: 'resigned'; reason: unknown }
  | { kind: 'failed'; error: unknown };

/**
 * The wait before retry number `attempt` (1, 2, …): `initialMs` doubled per earlier attempt, capped at
 * `maxMs`, of which a random half is taken off ("equal jitter"), so that many instances that lost the
 * server together do not all come back in the same millisecond, and the wait still grows.
 */
export function backoffDelay(attempt: number, retry: { initialMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

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
 *
 * With a `lease` (several instances of the host on one database), the subscription is open only while
 * this instance holds the lease; without it, the instance tries to take it every `leaseRetryMs`, and
 * `waitFor` reads the checkpoint the holder stores (every `checkpointPollMs` while anyone waits), so
 * read-your-writes holds on every instance. A lease lost mid-batch (its connection dropped) stops the
 * subscription at once; the batch in hand may still commit while another instance has already taken
 * over. That is safe: each batch locks the checkpoint row and applies only what lies after it, and each
 * instance delivers the log in the same order from the checkpoint it read, so an overlap only skips.
 */
export class SubscriptionProjector {
  private readonly projector: CatchUpProjector;
  private readonly batchSize: number;
  private readonly retry: { initialMs: number; maxMs: number };
  private readonly checkpointEveryMs: number;
  private readonly leaseRetryMs: number;
  private readonly checkpointPollMs: number;
  private readonly resignAfterMs: number;
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
  private lease: ProjectionLease | null;
  /** Holds the lease (meaningless without one: then it always applies). */
  private holdsLease = false;
  /** The loop reading the stored checkpoint for waiters while another instance applies; null when idle. */
  private polling: Promise<void> | null = null;

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
    this.leaseRetryMs = options.leaseRetryMs ?? 1000;
    this.checkpointPollMs = options.checkpointPollMs ?? 20;
    this.resignAfterMs = options.resignAfterMs ?? 10_000;
    this.lease = options.lease ?? null;
  }

  /** Applies the projection only while holding `lease` (see the class); before `start` only. */
  useLease(lease: ProjectionLease): this {
    if (this.loop) throw new Error('SubscriptionProjector.useLease: already started');
    this.lease = lease;
    return this;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Finishes the batch in hand, closes the subscription and gives up the lease; waiting appends learn it stopped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.subscription?.close();
    // Also cuts short an attempt to take the lease that waits for a server (the loop closes it again).
    const releasing = this.lease?.close().catch(() => undefined);
    await this.loop;
    await releasing;
    await this.polling;
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
      role: this.applies ? 'leader' : 'follower',
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
      this.pollWhileFollowing();
    });
  }

  /** This instance is the one applying the projection (always, without a lease). */
  private get applies(): boolean {
    return this.lease === null || this.holdsLease;
  }

  private async run(): Promise<void> {
    const lease = this.lease;
    if (!lease) return void (await this.lead(this.stopping.signal, null));
    try {
      while (!this.stopping.signal.aborted) {
        const term = await this.acquire(lease);
        if (!term) break;
        if ((await this.leadWhileHeld(term)) !== 'resigned') continue;
        await lease.release().catch(() => undefined);
        await sleep(2 * this.leaseRetryMs, this.stopping.signal); // another instance's turn first
      }
    } finally {
      this.holdsLease = false;
      await lease.close().catch(() => undefined);
    }
  }

  /** Tries to take the lease every `leaseRetryMs` until it holds it; null once stopping. */
  private async acquire(lease: ProjectionLease): Promise<LeaseTerm | null> {
    let failing = false;
    while (!this.stopping.signal.aborted) {
      try {
        const term = await lease.tryAcquire();
        failing = false;
        if (term) return this.stopping.signal.aborted ? null : term; // held and stopping: run() closes it
      } catch (error) {
        if (this.stopping.signal.aborted) return null;
        this.lastError = `could not take the projection lease: ${errorText(error)}`;
        if (!failing) this.options.onLease?.({ kind: 'failed', error });
        failing = true;
      }
      await sleep(this.leaseRetryMs, this.stopping.signal);
    }
    return null;
  }

  /** Applies the projection until the lease is lost, given up ('resigned') or the projector stops. */
  private async leadWhileHeld(term: LeaseTerm): Promise<'resigned' | 'ended'> {
    const resign = new AbortController();
    const onStop = () => resign.abort();
    this.stopping.signal.addEventListener('abort', onStop);
    this.holdsLease = true;
    this.lastError = null;
    this.options.onLease?.({ kind: 'acquired' });
    void term.lost.then((reason) => {
      if (resign.signal.aborted) return; // stepping down anyway (stopping): the lease's close ends it
      this.lastError = `lost the projection lease: ${errorText(reason)}`;
      this.options.onLease?.({ kind: 'lost', reason });
      resign.abort();
      void this.subscription?.close();
    });
    try {
      const failing = await this.lead(resign.signal, this.resignAfterMs);
      if (failing === null) return 'ended';
      this.lastError = `gave the projection lease up, failing for ${this.resignAfterMs} ms: ${errorText(failing)}`;
      this.options.onLease?.({ kind: 'resigned', reason: failing });
      return 'resigned';
    } finally {
      this.stopping.signal.removeEventListener('abort', onStop);
      resign.abort();
      this.holdsLease = false;
      // Appends that were waiting for this instance's subscription now wait for the stored checkpoint.
      this.pollWhileFollowing();
    }
  }

  /**
   * The subscription, reopened with back-off after each failure, until `signal` is aborted (then null), or
   * until it has failed for `resignAfterMs` without being confirmed or applying a batch: then the last failure.
   */
  private async lead(signal: AbortSignal, resignAfterMs: number | null): Promise<unknown> {
    // Failures since a batch was last applied: a subscription that connects, is confirmed and fails again
    // (a batch that cannot be written, a server that drops every call) keeps backing off.
    let attempt = 0;
    let failingSince: number | null = null;
    while (!signal.aborted) {
      let failure: unknown = null;
      try {
        await this.follow(signal, () => (attempt = 0));
      } catch (error) {
        if (signal.aborted) break;
        failure = error;
        this.lastError = errorText(error);
      } finally {
        // The server answered: whatever fails now, another instance would meet it too.
        if (this.connected) failingSince = null;
        this.connected = false;
        this.caughtUp = false;
      }
      if (signal.aborted) break;
      failingSince ??= Date.now();
      if (failure !== null && resignAfterMs !== null && Date.now() - failingSince >= resignAfterMs) return failure;
      attempt++;
      const delayMs = backoffDelay(attempt, this.retry, this.options.random);
      if (failure !== null) this.options.onError?.(failure, { attempt, delayMs });
      this.reconnects++;
      await sleep(delayMs, signal);
    }
    return null;
  }

  /** One subscription from the checkpoint until it ends or fails; `onApplied` after each applied batch. */
  private async follow(signal: AbortSignal, onApplied: () => void): Promise<void> {
    this.advance(await readCheckpoint(this.db, this.name));
    if (signal.aborted) return;
    const subscription = this.store.subscribe(this.applied, { highWaterMark: 2 * this.batchSize });
    this.subscription = subscription;
    try {
      if (signal.aborted) return;
      for (;;) {
        const items = await subscription.take(this.batchSize);
        // Once stopping, what is still queued is left for the next start (it resumes at the checkpoint).
        if (items === null || signal.aborted) return;
        if ((await this.handle(items)) > 0) onApplied();
      }
    } finally {
      this.subscription = null;
      await subscription.close();
    }
  }

  /**
   * While appends wait here and another instance applies the projection: reads the checkpoint it stores
   * every `checkpointPollMs`. One loop for all waiters, so a busy instance asks once per interval.
   */
  private pollWhileFollowing(): void {
    const following = () => this.waiters.length > 0 && !this.applies && !this.stopping.signal.aborted;
    // Only when the loop will await (read) at least once: its `finally` must run after the assignment.
    if (this.polling || !following()) return;
    this.polling = (async () => {
      try {
        while (following()) {
          // The database away: the waiters time out as they would on the holder; keep asking until then.
          await readCheckpoint(this.db, this.name).then(
            (checkpoint) => this.advance(checkpoint),
            () => undefined,
          );
          if (!following()) break;
          await sleep(this.checkpointPollMs, this.stopping.signal);
        }
      } finally {
        this.polling = null;
      }
    })();
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
