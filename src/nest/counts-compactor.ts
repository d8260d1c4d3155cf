import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Database } from '../ports/database';
import { errorText } from '../domain/errors';
import { compactCounts } from '../../projections/counts';
import { INTERACTIONS_OPTIONS, InteractionsModuleOptions } from './options';
import { DATABASE } from './tokens';

export const DEFAULT_COUNTS_COMPACTION_MS = 10_000;

/**
 * Folds the counts' new rows now and then (projections/counts.ts), so countInvolving and
 * countInteractions keep reading a handful of rows. Counts are exact whether or not it runs; it only
 * keeps them cheap. One pass at a time; a pass that fails is logged and the next one tries again.
 */
@Injectable()
export class CountsCompactor implements OnApplicationBootstrap {
  private readonly logger = new Logger('InteractionsCounts');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(INTERACTIONS_OPTIONS) private readonly options: InteractionsModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.options.countsCompactionMs ?? DEFAULT_COUNTS_COMPACTION_MS;
    if (every === false || every <= 0) return;
    this.timer = setInterval(() => void this.compact(), every);
    this.timer.unref(); // never what keeps a host's process alive
  }

  /** One pass now (also what the timer runs); resolves when it is done. */
  compact(): Promise<void> {
    this.running ??= compactCounts(this.db).then(
      () => {
        this.running = null;
      },
      (error: unknown) => {
        this.running = null;
        this.logger.warn(`counts not compacted (the next pass retries): ${errorText(error)}`);
      },
    );
    return this.running;
  }

  /** Called by the module before it closes the pool: no new pass, the one running finishes. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
