import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { INTERACTIONS_OPTIONS, InteractionsModuleOptions } from '../nest/options';
import { FanOutStoppedError, LifecycleFanOut } from './fan-out';
import { errorText } from '../domain/errors';

/**
 * Finishes, in the background, the decisions a process left pending when it died: started once the
 * application is up (never blocking its start), stopped before the module closes its connections.
 */
@Injectable()
export class LifecycleResumer implements OnApplicationBootstrap {
  private readonly logger = new Logger('InteractionsLifecycle');
  private running: Promise<void> | null = null;

  constructor(
    private readonly fanOut: LifecycleFanOut,
    @Inject(INTERACTIONS_OPTIONS) private readonly options: InteractionsModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.resumeLifecycleOnStart === false) return;
    this.running = this.fanOut.resumePending().then(
      ({ decisions, interactions, failed }) => {
        if (decisions > 0) this.logger.log(`finished ${decisions} pending decision(s), ${interactions} interaction(s)`);
        if (failed > 0) this.logger.warn(`${failed} pending decision(s) not finished (the next start or \`resume\` retries)`);
      },
      (error: unknown) => {
        if (error instanceof FanOutStoppedError) return;
        const reason = errorText(error);
        this.logger.warn(`pending decisions not finished (the next start or \`resume\` retries): ${reason}`);
      },
    );
  }

  /** Called by the module before it closes the pool: the stream in hand is finished, the rest waits. */
  async stop(): Promise<void> {
    this.fanOut.stop();
    await this.running;
  }
}
