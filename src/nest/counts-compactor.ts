import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Database } from '../ports/database';
import { compactCounts } from '../../projections/counts';
import { INTERACTIONS_OPTIONS, InteractionsModuleOptions } from './options';
import { PeriodicPass } from './periodic-pass';
import { DATABASE } from './tokens';

export const DEFAULT_COUNTS_COMPACTION_MS = 10_000;

/**
 * Folds the counts' new rows now and then (projections/counts.ts), so countInvolving and
 * countInteractions keep reading a handful of rows. Counts are exact whether or not it runs; it only
 * keeps them cheap.
 */
@Injectable()
export class CountsCompactor implements OnApplicationBootstrap {
  private readonly passes: PeriodicPass;

  constructor(
    @Inject(DATABASE) db: Database,
    @Inject(INTERACTIONS_OPTIONS) private readonly options: InteractionsModuleOptions,
  ) {
    this.passes = new PeriodicPass(new Logger('InteractionsCounts'), 'counts not compacted', () => compactCounts(db));
  }

  onApplicationBootstrap(): void {
    const every = this.options.countsCompactionMs ?? DEFAULT_COUNTS_COMPACTION_MS;
    if (every === false || every <= 0) return;
    this.passes.start(every);
  }

  /** One pass now (also what the timer runs); resolves when it is done. */
  compact(): Promise<void> {
    return this.passes.run();
  }

  /** Called by the module before it closes the pool: no new pass, the one running finishes. */
  stop(): Promise<void> {
    return this.passes.stop();
  }
}
