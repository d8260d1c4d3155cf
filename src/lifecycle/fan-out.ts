import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { errorText, InteractionUnavailableError } from '../domain/errors';
import { Database } from '../ports/database';
import { EventStore } from '../ports/event-store';
import { fold } from '../domain/decider';
import { streamNameOf } from '../domain/events';
import { InteractionWriter, toDomainEvent } from '../nest/interaction-writer';
import { hasParkedEvents, rewriteStaleRow, staleRowVersion, takeParkedEventsFirst } from '../../projections/interactions.projection';
import { forgetFingerprints } from '../nest/idempotency';
import { LifecycleResult } from '../nest/messages';
import { ASYNC_PROJECTION, AsyncProjection, InteractionProjectionTimeoutError } from '../nest/read-your-writes';
import { DATABASE, EVENT_STORE } from '../nest/tokens';
import { ErasingEventStore } from '../adapters/erasure/erasing-event-store';
import { moveAllOwnership, refusedAsForgotten } from '../adapters/erasure/key-store';
import { decideForInteraction, Forgotten, holdsDecision, LifecycleDecision, unlinkedByForgets } from './decider';
import {
  completeDecision,
  decidedAs,
  destroyKeysPlanning,
  forgottenContent,
  keyWritersSettled,
  markTarget,
  mergedWith,
  pendingDecisions,
  pendingTargets,
  planTargets,
  RecordedDecision,
} from './decision-store';

/** Streams worked on at once: the pool's connections are shared with every other command. */
const PARALLEL_STREAMS = 4;
/** Planning sweeps: the second finds what an update linked while the first was worked on. */
const MAX_SWEEPS = 5;
/** Unsettled appends to a forgotten contact's interactions settled before her keys go (`run`). */
const SETTLED_BEFORE_FORGETTING = 1_000;
/** With EventStoreDB, how long planning waits for the read tables to reach the log's head. */
const CATCH_UP_TIMEOUT_MS = 30_000;

/** The contacts (or the staff person) a decision is about. */
function subjectsOf(decision: LifecycleDecision): string[] {
  switch (decision.kind) {
    case 'contacts_merged':
      return [decision.fromUuid, decision.intoUuid];
    case 'staff_person_deleted':
      return [decision.staffPersonUuid];
    default:
      return [decision.contactUuid];
  }
}

/** Thrown into a fan-out when the module closes: the decision stays pending, the next start finishes it. */
export class FanOutStoppedError extends Error {
  constructor() {
    super('the module is closing: the decision stays pending and is finished on the next start');
    this.name = 'FanOutStoppedError';
  }
}

/**
 * Runs a recorded decision to completion: plans the affected interactions from the read tables, then
 * for each runs an ordinary write-side session whose decide is the decision's part in it (a stream
 * that holds the decision's events already is skipped), marks it, and finally completes the decision
 * with the number of streams appended to. Every step can be repeated, so a run that died half-way is
 * finished by running it again.
 */
@Injectable()
export class LifecycleFanOut {
  private readonly logger = new Logger('InteractionsLifecycle');
  private stopping = false;
  /** The waits for the read model under way: stop() ends them. */
  private readonly waits = new Set<() => void>();
  /** The decisions being carried out in this process, by id (`alone`). */
  private readonly running = new Map<string, Promise<LifecycleResult>>();

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly writer: InteractionWriter,
    @Optional() @Inject(ASYNC_PROJECTION) private readonly projection: AsyncProjection | null = null,
  ) {}

  async run(recorded: RecordedDecision): Promise<LifecycleResult> {
    if (recorded.completed) return { interactions: recorded.interactions ?? 0 };
    return this.alone(recorded, async () => {
      await this.finishOlderAbout(recorded);
      return this.sweepAndComplete(recorded);
    });
  }

  /**
   * One runner of a decision at a time in this process: a newer decision finishing an older one
   * (`finishOlderAbout`), a keyed repeat, and the resumer wait for the run under way, then find it
   * completed. Two runners would each sweep, and the later one's sweep would act on what a newer
   * decision moved meanwhile (an older deletion deleting what a newer merge moved to its contact).
   */
  private async alone(recorded: RecordedDecision, carry: () => Promise<LifecycleResult>): Promise<LifecycleResult> {
    const { decisionId } = recorded.decision;
    const before = this.running.get(decisionId);
    // In the map before anything is awaited: a caller arriving meanwhile waits for this one.
    const mine = (async () => {
      await before?.catch(() => undefined);
      return (await this.completedResult(decisionId)) ?? (await carry());
    })();
    this.running.set(decisionId, mine);
    try {
      return await mine;
    } finally {
      if (this.running.get(decisionId) === mine) this.running.delete(decisionId);
    }
  }

  /** The decision's result when it has been completed (by this runner's predecessor, or another process). */
  private async completedResult(decisionId: string): Promise<LifecycleResult | null> {
    const stored = await decidedAs(this.db, decisionId);
    return stored?.completed ? { interactions: stored.interactions ?? 0 } : null;
  }

  /** A pending decision's fan-out, its older ones about the same contacts dealt with. */
  private async sweepAndComplete(recorded: RecordedDecision): Promise<LifecycleResult> {
    const { decision } = recorded;
    // A merge hands over the merged contact's erasure keys everywhere, also in streams it needs nothing
    // in (a party removed since, an interaction deleted): forgetting `into` then forgets `from` too.
    const handOver = () => (decision.kind === 'contacts_merged' ? moveAllOwnership(this.db, decision.fromUuid, decision.intoUuid) : undefined);
    await handOver();
    // Writes that found her not forgotten just before the decision have committed: planned with the rest.
    if (decision.kind === 'contact_forgotten') await keyWritersSettled(this.db);
    // On EventStoreDB, appends to her interactions whose outcome never came back and that landed take the
    // owner steps they missed first (a subject moved away from her): her forget then keeps what is no
    // longer hers. One not in the log (yet) keeps its claim: her forget erases too much, never too little.
    if (decision.kind === 'contact_forgotten' && this.store instanceof ErasingEventStore) {
      await this.store.settleClaims(0, SETTLED_BEFORE_FORGETTING, decision.contactUuid);
    }
    for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      // Another process's runner may have completed it meanwhile (its start resuming it): then its sweeps
      // are done, and one more here could act on what a newer decision changed since.
      const completed = sweep > 0 ? await this.completedResult(decision.decisionId) : null;
      if (completed) return completed;
      await this.readTablesCaughtUp();
      const planned = await planTargets(this.db, decision);
      // Forgetting: once her streams are planned (some are found through her keys), all her keys go at
      // once, so nothing of hers stays readable while the streams are worked on, nor if one of them fails;
      // the same statement plans every stream they go from.
      if (sweep === 0 && decision.kind === 'contact_forgotten') await destroyKeysPlanning(this.db, null, decision, null);
      const pending = await pendingTargets(this.db, decision.decisionId);
      if (sweep > 0 && planned === 0 && pending.length === 0) break;
      await this.work(recorded, pending);
    }
    await handOver(); // keys a racing write made for `from` meanwhile
    return { interactions: await completeDecision(this.db, decision.decisionId) };
  }

  /**
   * Decisions about one contact apply in the order they were recorded: a merge a crash left pending is
   * finished before a later deletion or merge of its `into` runs (else that one would miss the streams
   * the merge moves there afterwards). One that cannot finish keeps the later ones waiting, with its error.
   * A forget waits for none: it takes every contact merged with hers, merge finished or not (`personOf`),
   * and an erasure must not wait on a stream that cannot be read elsewhere.
   */
  private async finishOlderAbout({ decision }: RecordedDecision): Promise<void> {
    if (decision.kind === 'contact_forgotten') return;
    const pending = await pendingDecisions(this.db);
    const index = pending.findIndex((older) => older.decision.decisionId === decision.decisionId);
    const about = new Set(subjectsOf(decision));
    for (const older of pending.slice(0, Math.max(index, 0))) {
      if (subjectsOf(older.decision).some((uuid) => about.has(uuid))) await this.run(older);
    }
  }

  /**
   * Finishes every pending decision, oldest first (module start, CLI `resume`). One that fails (a stream
   * that cannot be read) is logged and stays pending; the others are still tried. Going oldest first, each
   * finds its older ones dealt with already: finished, or not finished and it skipped.
   */
  async resumePending(): Promise<{ decisions: number; interactions: number; failed: number }> {
    let decisions = 0;
    let interactions = 0;
    let failed = 0;
    /** The contacts of the decisions not finished in this pass: later ones about them wait (`finishOlderAbout`). */
    const unfinished = new Set<string>();
    for (const recorded of await pendingDecisions(this.db)) {
      const { kind, decisionId } = recorded.decision;
      const about = subjectsOf(recorded.decision);
      const notFinished = (reason: string) => {
        this.logger.warn(`${kind} decision ${decisionId} not finished (the next start or \`resume\` retries): ${reason}`);
        for (const uuid of about) unfinished.add(uuid);
        failed++;
      };
      if (kind !== 'contact_forgotten' && about.some((uuid) => unfinished.has(uuid))) {
        notFinished('it waits for an older decision about the same contact');
        continue;
      }
      this.logger.log(`resuming ${kind} decision ${decisionId}`);
      try {
        interactions += (await this.alone(recorded, () => this.sweepAndComplete(recorded))).interactions;
        decisions++;
      } catch (error) {
        if (error instanceof FanOutStoppedError) throw error;
        notFinished(errorText(error));
      }
    }
    return { decisions, interactions, failed };
  }

  /** Ends fan-outs between two streams (the stream in hand is finished first), and any wait for the read model. */
  stop(): void {
    this.stopping = true;
    for (const end of this.waits) end();
  }

  private async work(recorded: RecordedDecision, targets: string[]): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async () => {
      try {
        while (next < targets.length && !failed) {
          if (this.stopping) throw new FanOutStoppedError();
          await this.applyTo(recorded, targets[next++]!);
        }
      } catch (error) {
        failed = true; // the other workers stop after the stream in hand
        throw error;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_STREAMS, targets.length) }, worker));
  }

  /**
   * One stream's part, then its target marked done: appended when the stream holds the decision's events
   * (now or already). On PostgreSQL the mark commits with the append; elsewhere it follows it (a crash in
   * between is harmless: the stream holds the decision's id, so the next run only marks it).
   */
  private async applyTo({ decision, actorUuid, correlationId }: RecordedDecision, interactionUuid: string): Promise<void> {
    const { decisionId } = decision;
    let appended = true;
    /** Forgetting: what became of its content, and the contacts merged with hers. */
    let forgotten: Forgotten = { contentErased: false, erasedSubject: null, mergedWith: [] };
    if (decision.kind === 'contact_forgotten') await this.eraseStaleRow(interactionUuid);
    try {
      const { outcome, committedWith } = await this.writer.applyToStream(
        interactionUuid,
        (state, stored) => {
          if (holdsDecision(stored, decisionId)) return 'already';
          // Forgetting: what an earlier forget of her did there is done (the other decisions need no history).
          const unlinkedBefore = decision.kind === 'contact_forgotten' ? unlinkedByForgets(stored) : undefined;
          return decideForInteraction(decision, state, { ...forgotten, unlinkedBefore });
        },
        { actorUuid, correlationId, causationId: decisionId },
        {
          // Forgetting: the keys go first, so the stream is decided on as it reads from now on (erased).
          beforeRead:
            decision.kind === 'contact_forgotten'
              ? async (tx) => {
                  const q = tx ?? this.db;
                  const merged = await mergedWith(q, decision.contactUuid);
                  await destroyKeysPlanning(this.db, tx, decision, interactionUuid, merged);
                  await forgetFingerprints(q, streamNameOf(interactionUuid));
                  forgotten = { ...(await forgottenContent(q, decisionId, interactionUuid)), mergedWith: merged };
                }
              : undefined,
          inSession: (tx, appends) => markTarget(tx, decisionId, interactionUuid, appends),
        },
      );
      if (committedWith) return;
      appended = outcome !== 'nothing';
    } catch (error) {
      // A merge into a contact forgotten meanwhile (its keys would become hers): nothing was written; her
      // forget erases the stream where it saw the merge, else the stream stays `from`'s (`moveAllOwnership`).
      // Otherwise: appended and published; only the read tables are late, and planning waits for them anyway.
      if (refusedAsForgotten(error)) appended = false;
      else if (!(error instanceof InteractionProjectionTimeoutError)) throw error;
    }
    await markTarget(this.db, decisionId, interactionUuid, appended);
  }

  /**
   * A read row behind its parked stream takes none of the forget's events until the parked ones apply, so
   * it would keep what it showed of her. Her keys are gone by now (the decision's first sweep): the row's
   * revision, read again from the log, reads erased, and the row is written so. First, so that a stream
   * whose session cannot finish (an event it cannot read) has its row erased all the same.
   */
  private async eraseStaleRow(interactionUuid: string): Promise<void> {
    if (!(await hasParkedEvents(this.db, interactionUuid))) return;
    const stored = await this.store.readStream(streamNameOf(interactionUuid));
    await this.db.transaction(async (tx) => {
      // parked_events before the read table, as every writer takes them (a rebuild's TRUNCATE would deadlock).
      await takeParkedEventsFirst(tx);
      const version = await staleRowVersion(tx, interactionUuid);
      if (version === null) return;
      // Only what the row holds: a parked event after it may be one the module cannot read. A row that moved
      // past what was read (parked events applied since) is at another revision: rewriteStaleRow leaves it.
      const { interaction } = fold(stored.filter((event) => event.revision <= version).map(toDomainEvent));
      if (interaction) await rewriteStaleRow(tx, interaction);
    });
  }

  /**
   * With EventStoreDB the read tables follow the log a little later: planning reads them once they have
   * reached the log's head as of now, so nothing appended before the decision is missed.
   */
  private async readTablesCaughtUp(): Promise<void> {
    if (!this.projection) return;
    const head = await this.store.headPosition();
    // A promise per wait, dropped with it (one that lived as long as the fan-out would keep every race's).
    let end!: () => void;
    const stopped = new Promise<'stopped'>((resolve) => (end = () => resolve('stopped')));
    this.waits.add(end);
    if (this.stopping) end();
    let reached: boolean | 'stopped';
    try {
      reached = await Promise.race([this.projection.reached(head, CATCH_UP_TIMEOUT_MS), stopped]);
    } finally {
      this.waits.delete(end);
    }
    if (reached === 'stopped') throw new FanOutStoppedError();
    if (reached) return;
    throw new InteractionUnavailableError(
      `the read model did not reach the event log's head within ${CATCH_UP_TIMEOUT_MS} ms; ` +
        'the decision is recorded and is finished on the next start or by `resume`',
      true,
    );
  }
}
