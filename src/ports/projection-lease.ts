/** A lease held: `lost` settles (with the reason) when it is gone, e.g. its connection dropped. */
export interface LeaseTerm {
  lost: Promise<unknown>;
}

/**
 * Who applies the subscription projection when several instances of the host share the read tables.
 * Only one instance at a time should: the others would only repeat its work (each batch is skipped by
 * all but one of them, under the checkpoint row's lock) and fight over that lock.
 */
export interface ProjectionLease {
  /** One attempt: a term when this process holds the lease now, null when another one does. Throws when it cannot ask. */
  tryAcquire(): Promise<LeaseTerm | null>;
  /** Gives the lease up (if held), staying able to take it again. */
  release(): Promise<void>;
  /** Gives the lease up (if held) and closes whatever it opened; also cuts an attempt in flight short. */
  close(): Promise<void>;
}
