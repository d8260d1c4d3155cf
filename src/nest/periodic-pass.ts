import { Logger } from '@nestjs/common';
import { errorText } from '../domain/errors';

/**
 * Background upkeep run every so often: one pass at a time, a pass that fails is logged and the next one
 * tries again, and the timer is never what keeps a host's process alive.
 */
export class PeriodicPass {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly logger: Logger,
    /** What a failed pass left undone, for the log line ("counts not compacted"). */
    private readonly undone: string,
    private readonly pass: () => Promise<unknown>,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.run(), everyMs);
    this.timer.unref();
  }

  /** One pass now (also what the timer runs), or the one under way; resolves when it is done. */
  run(): Promise<void> {
    this.running ??= this.pass().then(
      () => {
        this.running = null;
      },
      (error: unknown) => {
        this.running = null;
        this.logger.warn(`${this.undone} (the next pass retries): ${errorText(error)}`);
      },
    );
    return this.running;
  }

  /** No new pass; the one running finishes. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
