/** How big each benchmark run is. `small` is the quick run (each scenario well under two minutes); `full` is the 1M run. */
export interface Scale {
  name: 'small' | 'full';
  /** CRM contacts (the ContactDirectory); the first `busyContacts` of them get a `busyShare` of all picks. */
  contacts: number;
  busyContacts: number;
  busyShare: number;
  staff: number;
  /** Interactions created in the generated log; ~5% are deleted later, ~30% updated. */
  interactions: number;
  /** Events per batch of the rebuild (`rebuild`'s batchSize). */
  rebuildBatch: number;
  rebuildRuns: number;
  /**
   * createInteraction calls measured with 1 caller and with `callers` concurrent callers, in each of
   * `appendRounds` rounds (module, Emmett and CRUD interleaved, fresh tables every round), after
   * `appendWarmup` unmeasured calls of each per round.
   */
  appendSingle: number;
  appendConcurrent: number;
  callers: number;
  appendRounds: number;
  appendWarmup: number;
  /**
   * The sizes of a first round that is run whole and not counted: V8 compiles a path with its optimizing
   * compiler only after running it many times, so the first few thousand creates of a process measure
   * its JIT warming up, not the write path (measured, a lone create after 500 creates: 2.8 ms of Node
   * CPU, V8's compiler threads busy; after 4,500: 1.5 ms). Emmett's and the CRUD code warm up in it too.
   */
  warmupRound: Pick<Scale, 'appendSingle' | 'appendConcurrent' | 'updateSingle' | 'updateConcurrent'>;
  /** updateInteraction calls (module vs CRUD UPDATE) per round, on interactions the round created. */
  updateSingle: number;
  updateConcurrent: number;
  /** Calls per query series, and the wall-clock cap of one series (slow baselines stop earlier). */
  queryIterations: number;
  querySeriesMs: number;
  /** The PGlite scenario (always the small data set, whatever the scale). */
  pgliteInteractions: number;
  pgliteAppends: number;
}

/** The same at every scale: what warms V8 up does not grow with the data. */
const WARMUP_ROUND: Scale['warmupRound'] = { appendSingle: 1_500, appendConcurrent: 3_000, updateSingle: 750, updateConcurrent: 1_500 };

export const SCALES: Record<Scale['name'], Scale> = {
  small: {
    name: 'small',
    contacts: 2_000,
    busyContacts: 5,
    busyShare: 0.03,
    staff: 50,
    interactions: 10_000,
    rebuildBatch: 2_000,
    rebuildRuns: 2,
    appendSingle: 200,
    appendConcurrent: 800,
    callers: 16,
    appendRounds: 3,
    appendWarmup: 100,
    warmupRound: WARMUP_ROUND,
    updateSingle: 100,
    updateConcurrent: 400,
    queryIterations: 200,
    querySeriesMs: 2_000,
    pgliteInteractions: 10_000,
    pgliteAppends: 200,
  },
  full: {
    name: 'full',
    contacts: 100_000,
    busyContacts: 10,
    busyShare: 0.03,
    staff: 500,
    interactions: 1_050_000,
    rebuildBatch: 2_500,
    rebuildRuns: 1,
    appendSingle: 1_000,
    appendConcurrent: 10_000,
    callers: 16,
    appendRounds: 3,
    appendWarmup: 500,
    warmupRound: WARMUP_ROUND,
    updateSingle: 1_000,
    updateConcurrent: 5_000,
    queryIterations: 2_000,
    querySeriesMs: 30_000,
    pgliteInteractions: 10_000,
    pgliteAppends: 300,
  },
};
