import type { FollowingProjector, ProjectionStatus } from '../ports/projection';
import { AppendResult, Position } from '../ports/event-store';
import { InteractionUnavailableError } from '../domain/errors';

/**
 * Read-your-writes over asynchronous projections. With the PostgreSQL event store the read tables change
 * in the append's transaction, so there is nothing to wait for and no ASYNC_PROJECTION provider value
 * (null). With EventStoreDB a subscription applies the events a moment later; the write side then waits,
 * bounded, until the projection has passed the append's position before it returns, so a query right
 * after a command sees it.
 */
export const ASYNC_PROJECTION = Symbol.for('crm-interactions:ASYNC_PROJECTION');

export interface AsyncProjection {
  /** Resolves once queries see the append (at once when waiting is off); else InteractionProjectionTimeoutError. */
  afterAppend(result: AppendResult): Promise<void>;
  /** For health checks: connected, caught up, how far the read tables are, leader or follower. */
  status(): ProjectionStatus;
  /** Resolves true once the read tables include `position` (a lifecycle fan-out reads them), false after `timeoutMs`. */
  reached(position: Position, timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

export const DEFAULT_READ_YOUR_WRITES_TIMEOUT_MS = 5000;

/**
 * The command's events are stored (and published), but the read tables did not include them in time:
 * queries may not show the change yet. Never a silent stale read: the caller learns it. An
 * InteractionUnavailableError with `committed: true`.
 */
export class InteractionProjectionTimeoutError extends InteractionUnavailableError {
  constructor(
    public readonly streamName: string,
    public readonly revision: number,
    public readonly position: Position,
    public readonly timeoutMs: number,
    public readonly reason: 'timeout' | 'stopped' = 'timeout',
  ) {
    super(
      `${streamName} revision ${revision} was saved, but the read model ` +
        (reason === 'stopped' ? 'stopped before including it' : `did not include it within ${timeoutMs} ms`) +
        '; queries may not show it yet (see readYourWrites.timeoutMs)',
      true,
    );
    this.name = 'InteractionProjectionTimeoutError';
  }
}

/**
 * The EventStoreDB subscription projector behind the write side's wait. With several instances of the
 * host, one holds the projection lease and applies the events; its appends wait for its own in-memory
 * position. Every other instance waits on the checkpoint that one stores in PostgreSQL (read every 20 ms
 * while anything waits: `SubscriptionProjector.waitFor`), with the same timeout and the same error. So a
 * command returns on any instance once every instance's queries show it, and `status().role` tells which
 * kind this instance is.
 */
export class SubscriptionReadYourWrites implements AsyncProjection {
  constructor(
    private readonly projector: FollowingProjector,
    /** null: commands return right after the append. */
    private readonly timeoutMs: number | null,
  ) {}

  async afterAppend(result: AppendResult): Promise<void> {
    if (this.timeoutMs === null) return;
    const outcome = await this.projector.waitFor(result.position, this.timeoutMs);
    if (outcome === 'reached') return;
    const last = result.events[result.events.length - 1]!;
    throw new InteractionProjectionTimeoutError(last.streamName, last.revision, result.position, this.timeoutMs, outcome);
  }

  status(): ProjectionStatus {
    return this.projector.status();
  }

  async reached(position: Position, timeoutMs: number): Promise<boolean> {
    return (await this.projector.waitFor(position, timeoutMs)) === 'reached';
  }

  stop(): Promise<void> {
    return this.projector.stop();
  }
}
