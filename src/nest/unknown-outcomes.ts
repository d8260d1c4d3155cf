import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText } from '../domain/errors';
import { RecordedEvent } from '../ports/event-store';

/** For how long an append of unknown outcome is looked for, and the pauses before each look (the last repeats). */
export const UNKNOWN_OUTCOME_WATCH = { forMs: 10 * 60_000, pausesMs: [250, 1_000, 5_000, 15_000, 30_000] };

/** How to find an append of unknown outcome and publish it. */
export interface UnknownAppend {
  streamName: string;
  /** The append's events in their stream, [] while they are not there; throws when it cannot be read. */
  find: () => Promise<RecordedEvent[]>;
  /** Absent is not final: the write may still land (a statement cut off while it waited for a lock). */
  mayStillLand: boolean;
  /** Publishes the events found, as the command would have. */
  publish: (events: RecordedEvent[]) => Promise<void>;
}

/**
 * Appends whose command answered with their outcome unknown (the store unreachable when the command read
 * it back, or a statement cut off that may still commit) are looked for in their stream in the
 * background, and their events published when found: the command's caller got an error, but a subscriber
 * of the EventBus still sees what landed. For `UNKNOWN_OUTCOME_WATCH.forMs`, while the process runs.
 */
@Injectable()
export class UnknownOutcomes {
  private readonly logger = new Logger('InteractionsWriter');
  private readonly stopping = new AbortController();
  private readonly watching = new Set<Promise<void>>();
  /** Looks `stop` ended before they found their append or gave up. */
  private abandoned = 0;

  watch(append: UnknownAppend): void {
    if (this.stopping.signal.aborted) return;
    const watch: Promise<void> = this.lookFor(append).finally(() => this.watching.delete(watch));
    this.watching.add(watch);
  }

  private async lookFor({ streamName, find, mayStillLand, publish }: UnknownAppend): Promise<void> {
    const { forMs, pausesMs } = UNKNOWN_OUTCOME_WATCH;
    const until = Date.now() + forMs;
    for (let look = 0; Date.now() < until; look++) {
      try {
        // Never what keeps a host's process alive.
        await sleep(pausesMs[Math.min(look, pausesMs.length - 1)], undefined, { signal: this.stopping.signal, ref: false });
      } catch {
        this.abandoned++; // stopped
        return;
      }
      let found: RecordedEvent[];
      try {
        found = await find();
      } catch {
        continue; // still unreachable
      }
      if (found.length > 0) {
        try {
          await publish(found);
          this.logger.log(`an append to ${streamName} whose outcome was unknown landed: its events are published`);
        } catch (error) {
          this.logger.error(`an append to ${streamName} whose outcome was unknown landed, and publishing it failed: ${errorText(error)}`);
        }
        return;
      }
      if (!mayStillLand) return; // read, and not there: it never landed
    }
    this.logger.warn(`an append to ${streamName} whose outcome was unknown was not found in ${forMs / 1000} s: if it lands, its events are not published`);
  }

  /** Called by the module before it closes the event store: the looks end (one under way finishes). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.watching]);
    if (this.abandoned > 0) {
      this.logger.warn(`${this.abandoned} append(s) of unknown outcome no longer looked for: if they land, their events are not published`);
    }
  }
}
