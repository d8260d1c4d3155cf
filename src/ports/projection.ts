import { Position } from './event-store';

/**
 * What the module needs of a projector that applies events after their append (the EventStoreDB
 * subscription): its state for health checks and metrics, and a wait for a position (read-your-writes).
 * A port, so the module's declarations need no event store client's types.
 */
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
  /**
   * `leader`: this instance applies the projection (always, without a lease). `follower`: another
   * instance holds the lease and applies it; this one has no subscription (so `connected` and `caughtUp`
   * stay false), tries to take the lease every second, and waits for the checkpoint stored in PostgreSQL.
   */
  role: 'leader' | 'follower';
}

export type WaitOutcome = 'reached' | 'timeout' | 'stopped';

export interface FollowingProjector {
  status(): ProjectionStatus;
  /** Resolves once the read tables include everything up to `position`, or after `timeoutMs`. */
  waitFor(position: Position, timeoutMs: number): Promise<WaitOutcome>;
  stop(): Promise<void>;
}
