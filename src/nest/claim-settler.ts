import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ErasingEventStore } from '../adapters/erasure/erasing-event-store';
import { errorText } from '../domain/errors';
import { checkEventStoreOption } from './event-store.provider';
import { INTERACTIONS_OPTIONS, InteractionsModuleOptions } from './options';
import { PeriodicPass } from './periodic-pass';
import { EVENT_STORE } from './tokens';

/** How often the pass runs, and how long ago a claim must have been made for it to look at it. */
export const CLAIM_SETTLING = { everyMs: 60_000, afterMs: 60_000 };

/**
 * On EventStoreDB, settles the erasure keys' owner claims of appends whose outcome never came back
 * (`ErasingEventStore.settleClaims`): until then such an owner's forget destroys the key (erasing too
 * much, never too little), unless the forget settled it first (`LifecycleFanOut.run`). On PostgreSQL no
 * row is ever claimed, and it does not run.
 */
@Injectable()
export class ClaimSettler implements OnApplicationBootstrap {
  private readonly passes: PeriodicPass;

  constructor(
    @Inject(EVENT_STORE) store: ErasingEventStore,
    @Inject(INTERACTIONS_OPTIONS) private readonly options: InteractionsModuleOptions,
  ) {
    this.passes = new PeriodicPass(new Logger('InteractionsErasure'), 'owner claims not settled', async () => {
      const { failures } = await store.settleClaims(CLAIM_SETTLING.afterMs);
      const [first] = failures;
      if (first) {
        throw new Error(`those of ${failures.length} interaction(s), first ${first.interactionUuid}: ${errorText(first.error)}`, { cause: first.error });
      }
    });
  }

  onApplicationBootstrap(): void {
    if (checkEventStoreOption(this.options).kind === 'eventstoredb') this.passes.start(CLAIM_SETTLING.everyMs);
  }

  /** One pass now (also what the timer runs); resolves when it is done. */
  settle(): Promise<void> {
    return this.passes.run();
  }

  /** Called by the module before it closes the event store: no new pass, the one running finishes. */
  stop(): Promise<void> {
    return this.passes.stop();
  }
}
