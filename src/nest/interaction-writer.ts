import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from '../domain/uuid';
import { traced } from '../observability/tracing';
import {
  decide,
  DecideContext,
  fold,
  InteractionCommand,
  InteractionState,
  RecordedInteractionEvent,
} from '../domain/decider';
import {
  ErrorCollector,
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionUnavailableError,
  InteractionUnreadableError,
  InteractionValidationError,
} from '../domain/errors';
import { checkEvent, InteractionEvent, InvalidEventError, parseEvent, streamNameOf } from '../domain/events';
import { ContactRecord, involvedContactUuids, StaffRecord } from '../domain/interaction';
import { NormalisedParty } from '../domain/validation';
import { Database, Queryable } from '../ports/database';
import {
  AppendResult,
  EventMetadata,
  EventStore,
  knownPositionOr,
  RecordedEvent,
  StoreContentionError,
  StreamSession,
  WrongExpectedVersionError,
} from '../ports/event-store';
import { editFitsAppend } from '../../projections/interactions.projection';
import { forgottenAmong, refusedAsForgotten } from '../adapters/erasure/key-store';
import {
  answeredWithoutEvents,
  Idempotency,
  KEY_HOLD_MS,
  KeyRelease,
  markKeyPublished,
  releaseIdempotencyKey,
  renewIdempotencyHold,
  ReservedKey,
  reserveIdempotencyKey,
} from './idempotency';
import { CommandOptions, PUBLISHED_EVENT_CLASSES } from './messages';
import { ASYNC_PROJECTION, AsyncProjection } from './read-your-writes';
import { DATABASE, Directories, DIRECTORIES, EVENT_STORE } from './tokens';
import { UnknownOutcomes } from './unknown-outcomes';

/**
 * How long a command without `expectedVersion` keeps re-reading and re-deciding after losing a race. On
 * EventStoreDB every try is optimistic; on PostgreSQL only the first (without the stream lock), and the
 * next ones queue on the lock.
 */
const RACE_DEADLINE_MS = 10_000;

/**
 * Whether a command that just lost a race tries again: the deadline counts from its first lost race, so
 * a first try slowed down (a busy pool, a busy machine) does not use up the time to retry.
 */
function retryRace(race: { deadline: number | null }): boolean {
  race.deadline ??= Date.now() + RACE_DEADLINE_MS;
  return Date.now() < race.deadline;
}
const RACE_BACKOFF_MS = { first: 5, max: 250 };

/** A stored event as the decider folds it; InteractionUnreadableError when the module cannot read it. */
export function toDomainEvent(event: RecordedEvent): RecordedInteractionEvent {
  const fail = (reason: string) => new InteractionUnreadableError(event.streamName, event.revision, event.type, reason);
  let parsed: InteractionEvent;
  try {
    parsed = parseEvent(event.type, event.data);
  } catch (error) {
    if (error instanceof InvalidEventError) throw fail(error.message);
    throw error;
  }
  if (streamNameOf(parsed.data.interactionUuid.toLowerCase()) !== event.streamName.toLowerCase()) {
    throw fail(`its data names interaction ${parsed.data.interactionUuid}`);
  }
  const recordedAt = new Date(event.metadata?.recordedAt ?? Number.NaN);
  if (Number.isNaN(recordedAt.getTime())) throw fail('its metadata has no valid recordedAt');
  return { ...parsed, revision: event.revision, recordedAt };
}

/** What one read–decide–append of a stream came to. */
interface Attempt {
  before: InteractionState;
  /** The events appended, or about to be (their ids tell whether an append of unknown outcome landed). */
  appending: RecordedEvent['id'][];
  result: AppendResult | null;
  /** The events of `result` as decided and parsed before the append (null when it was read back instead). */
  checked: InteractionEvent[] | null;
  /** The state a repeat of an idempotent command returns: the first request's result. */
  replayed: InteractionState | null;
  /** Of a repeat: the last event of the stream that result folds (null: none). */
  replayedThrough: RecordedEvent | null;
  /** Of a repeat: the first request's events, which it may not have published, and the state before them. */
  unpublished: { events: RecordedEvent[]; before: InteractionState } | null;
}

const newAttempt = (): Attempt => ({ before: fold([]), appending: [], result: null, checked: null, replayed: null, replayedThrough: null, unpublished: null });

/**
 * The write side's loop around the pure decider: look up what the command references, then read the
 * stream, decide and append with the read revision as the expectation (on PostgreSQL first without the
 * stream's lock, in two autocommitted round trips where the append fits one statement; after a
 * lost race under the lock, so writers queue), then publish. Every decided event is checked against its
 * schema before the append: nothing the module cannot read back is ever written.
 */
@Injectable()
export class InteractionWriter {
  /** Per stream, the last try waiting its turn after a lost race (`inTurn`). */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(DIRECTORIES) private readonly directories: Directories,
    private readonly eventBus: EventBus,
    private readonly unknownOutcomes: UnknownOutcomes,
    /** Present when the read tables follow the log asynchronously (EventStoreDB): read-your-writes. */
    @Optional() @Inject(ASYNC_PROJECTION) private readonly projection: AsyncProjection | null = null,
  ) {}

  async loadState(interactionUuid: string): Promise<InteractionState> {
    const events = await this.store.readStream(streamNameOf(interactionUuid));
    return fold(events.map(toDomainEvent));
  }

  async lookups(contactUuids: Iterable<string>, staffUuids: Iterable<string>, now = new Date()): Promise<DecideContext> {
    const contactIds = [...new Set(contactUuids)];
    const staffIds = [...new Set(staffUuids)];
    const staffDirectory = this.directories.staff;
    const [contacts, staff] = await Promise.all([
      contactIds.length > 0 ? this.directories.contacts.findContacts(contactIds) : Promise.resolve<ContactRecord[]>([]),
      staffDirectory && staffIds.length > 0 ? staffDirectory.findStaff(staffIds) : Promise.resolve<StaffRecord[]>([]),
    ]);
    return {
      now,
      contacts: new Map(contacts.map((c) => [c.uuid.toLowerCase(), c])),
      staff: staffDirectory ? new Map(staff.map((s) => [s.uuid.toLowerCase(), s])) : null,
    };
  }

  /**
   * The look-ups without the contacts a forget took away, after the store refused a write naming one
   * (`refusedAsForgotten`, in the write's statement): decided again on them, the command is refused at the
   * field that names her, as for a contact the directory does not know.
   */
  private async withoutForgotten(ctx: DecideContext, interactionUuid: string): Promise<DecideContext> {
    const forgotten = await forgottenAmong(this.db, [...ctx.contacts.keys()]);
    // Refused for a contact the command does not name: the subject, as the owner of the content the edit
    // seals. Her forget deletes the interaction (it may have already): not found, as it will read.
    if (forgotten.size === 0) throw new InteractionNotFoundError(interactionUuid);
    return { ...ctx, contacts: new Map([...ctx.contacts].filter(([uuid]) => !forgotten.has(uuid))) };
  }

  /** Decides and appends; returns the state after the command (the state before when nothing changed). */
  async execute(
    command: InteractionCommand,
    options: CommandOptions,
    now: Date,
    idempotency?: Idempotency,
  ): Promise<InteractionState> {
    // Directory look-ups depend on the command alone: done before the stream is locked.
    return this.executeLookedUp(command, options, await this.lookups(...referencedBy(command), now), idempotency);
  }

  private async executeLookedUp(
    command: InteractionCommand,
    options: CommandOptions,
    ctx: DecideContext,
    idempotency: Idempotency | undefined,
  ): Promise<InteractionState> {
    if (!idempotency) return this.run(command, options, ctx, null);
    const holder = uuidv7();
    const reserved = await this.reserve(idempotency, streamNameOf(command.interactionUuid), holder);
    // A repeated create acts on the interaction the first request created (or meant to).
    command = { ...command, interactionUuid: reserved.streamName.slice(streamNameOf('').length) };
    let ending: KeyRelease = 'kept';
    // Held for as long as this request runs, however slow: a repeat never decides beside it.
    const renewal = setInterval(() => void renewIdempotencyHold(this.db, idempotency.key, holder).catch(() => undefined), KEY_HOLD_MS / 3);
    renewal.unref();
    try {
      const after = await this.run(command, options, ctx, { ...reserved, idempotency, failedUnwritten: () => (ending = 'free') });
      ending = 'published';
      return after;
    } catch (error) {
      // Its append may land, unpublished: the repeat that finds it publishes it.
      if (error instanceof InteractionUnavailableError && error.committed === 'unknown') ending = 'unresolved';
      throw error;
    } finally {
      clearInterval(renewal);
      await releaseIdempotencyKey(this.db, idempotency.key, holder, ending).catch(() => undefined);
    }
  }

  /** `keyed`: the key this request holds, and what to call when it failed with nothing under the key. */
  private async run(
    command: InteractionCommand,
    options: CommandOptions,
    ctx: DecideContext,
    keyed: (ReservedKey & { idempotency: Idempotency; failedUnwritten: () => void }) | null,
  ): Promise<InteractionState> {
    const idempotency = keyed?.idempotency;
    const streamName = keyed?.streamName ?? streamNameOf(command.interactionUuid);
    const fresh = keyed?.fresh ?? true;
    const answeredEvents = keyed?.answeredEvents ?? null;
    const unpublished = keyed?.unpublished ?? false;
    const metadata: EventMetadata = {
      actorUuid: options.actorUuid ?? null,
      correlationId: options.correlationId ?? uuidv7(),
      causationId: options.causationId ?? null,
      recordedAt: ctx.now.toISOString(),
      ...(idempotency && { idempotencyKey: idempotency.key }),
    };
    const race = { deadline: null as number | null };
    for (let attempt = 0; ; attempt++) {
      // A brand-new stream holds nothing to read, unless an earlier try (or request) may have written it.
      const knownEmpty = command.kind === 'create' && fresh && attempt === 0;
      const state = newAttempt();
      try {
        const work = (session: StreamSession) =>
          this.decideAndAppend(session, command, ctx, metadata, knownEmpty, { answeredEvents, unpublished }, state);
        const { createStream } = this.store;
        await traced('crm-interactions append', { 'crm_interactions.stream': streamName, 'crm_interactions.attempt': attempt }, () =>
          // A new stream needs no read and no lock: one statement where the store can (createStream).
          // Otherwise a first try without the lock where the command may fit one statement (two round
          // trips, autocommitted); after a lost race under the lock, so a busy stream's writers queue.
          knownEmpty && createStream
            ? work({ tx: null, readStream: async () => [], appendToStream: (events) => createStream.call(this.store, streamName, events) })
            : this.inTurn(streamName, attempt, () =>
                this.store.withStream(streamName, work, { optimistic: attempt === 0 && mayFitOneStatement(command), projectionRead: editsText(command) }),
              ),
        );
      } catch (error) {
        if (refusedAsForgotten(error)) {
          // Nothing was written: decided again without her, the command is refused where it names her.
          ctx = await this.withoutForgotten(ctx, command.interactionUuid);
          continue;
        }
        if (error instanceof InteractionUnavailableError && error.committed === 'unknown') {
          if (state.appending.length === 0) throw new InteractionUnavailableError(error.message, false, { cause: error });
          state.result = await this.resolveUnknown(streamName, state, error, idempotency?.key ?? null);
          state.checked = null;
        } else if (
          ((error instanceof WrongExpectedVersionError && !pinned(command)) || error instanceof StoreContentionError) &&
          retryRace(race)
        ) {
          // Lost a race (or was rolled back by one): read again and decide on what the other wrote.
          await sleep(backoff(attempt));
          continue;
        } else {
          // A key the request took new is freed; one it found bound stays bound, as an earlier request of
          // it whose outcome was unknown may still land (freed, a repeat would create a second interaction,
          // or a request of another input be answered with the first one's result).
          if (keyed?.fresh && wroteNothing(error)) keyed.failedUnwritten();
          if (error instanceof WrongExpectedVersionError && pinned(command)) {
            throw new InteractionConflictError(command.interactionUuid, state.before.version, error.actual);
          }
          throw racesLost(error);
        }
      }
      if (state.replayed) {
        if (state.unpublished) await this.publishFound(state.unpublished);
        if (state.replayedThrough) await this.shown(state.replayedThrough);
        return state.replayed;
      }
      if (!state.result) return state.before;
      return this.afterAppend(state.before, state.result, state.checked);
    }
  }

  private async reserve(idempotency: Idempotency, streamName: string, holder: string): Promise<ReservedKey> {
    try {
      return await reserveIdempotencyKey(this.db, idempotency, streamName, holder);
    } catch (error) {
      // Nothing of the command is written before its key is bound. The hold may have been taken before the
      // answer was lost: ended where it can be, so that a retry need not wait for it to lapse.
      if (error instanceof InteractionUnavailableError) {
        await releaseIdempotencyKey(this.db, idempotency.key, holder, 'kept').catch(() => undefined);
        throw new InteractionUnavailableError(error.message, false, { cause: error });
      }
      throw error;
    }
  }

  private async decideAndAppend(
    session: StreamSession,
    command: InteractionCommand,
    ctx: DecideContext,
    metadata: EventMetadata,
    knownEmpty: boolean,
    earlier: {
      /** The key's first request changed nothing: the number of events it was answered on. */
      answeredEvents: number | null;
      /** An earlier request of the key may have landed without publishing (`ReservedKey.unpublished`). */
      unpublished: boolean;
    },
    state: Attempt,
  ): Promise<void> {
    const stored = knownEmpty ? [] : await session.readStream();
    state.before = fold(stored.map(toDomainEvent));
    const key = metadata.idempotencyKey;
    if (key !== undefined) {
      let last = stored.length - 1;
      while (last >= 0 && stored[last]!.metadata?.idempotencyKey !== key) last--;
      if (last >= 0 || earlier.answeredEvents !== null) {
        const through = last >= 0 ? last + 1 : earlier.answeredEvents!;
        state.replayed = fold(stored.slice(0, through).map(toDomainEvent));
        state.replayedThrough = stored[through - 1] ?? null;
        if (last >= 0 && earlier.unpublished) {
          // That request's events: the run of the key's events its last one ends.
          let first = last;
          while (first > 0 && stored[first - 1]!.metadata?.idempotencyKey === key) first--;
          state.unpublished = { events: stored.slice(first, last + 1), before: fold(stored.slice(0, first).map(toDomainEvent)) };
        }
        return;
      }
    }
    const events = decide(command, state.before, ctx);
    if (events.length > 0) await appendDecided(session, events, metadata, state, stored.at(-1)?.metadata.recordedAt ?? null);
    else if (key !== undefined) await answeredWithoutEvents(session.tx ?? this.db, key, stored.length);
  }

  /**
   * The connection was lost while the append was committing: whether it landed is read back from the
   * stream by event id, never guessed. Landed: the command succeeded. Not there: nothing was written.
   * Still unknown (unreadable, or absent but able to land later): the command fails, and the append is
   * looked for in the background, to be published if it lands (`UnknownOutcomes`).
   */
  private async resolveUnknown(streamName: string, { appending, before }: Attempt, error: InteractionUnavailableError, key: string | null): Promise<AppendResult> {
    const find = async () => (await this.store.readStream(streamName)).filter((event) => appending.includes(event.id));
    const stillUnknown = () => {
      this.unknownOutcomes.watch({
        streamName,
        find,
        mayStillLand: error.mayStillLand,
        publish: async (events) => {
          await this.publishFound({ events, before });
          if (key !== null) await markKeyPublished(this.db, key);
        },
      });
      return error;
    };
    let ours: RecordedEvent[];
    try {
      ours = await find();
    } catch {
      throw stillUnknown();
    }
    // Absent now is "never" only when the store says the write cannot land later.
    if (ours.length === 0 && error.mayStillLand) throw stillUnknown();
    if (ours.length === 0) throw new InteractionUnavailableError(error.message, false, { cause: error });
    const last = ours[ours.length - 1]!;
    return { nextRevision: last.revision, position: await knownPositionOr(this.store, last.position), events: ours };
  }

  /**
   * A repeat found events of its key an earlier request may not have published: published now as that
   * request's append would have been (`afterAppend`), once the read tables show them. A wait that times out
   * has published all the same, and the repeat answers as it always did.
   */
  private async publishFound({ events, before }: NonNullable<Attempt['unpublished']>): Promise<void> {
    const last = events[events.length - 1]!;
    const found = { nextRevision: last.revision, position: await knownPositionOr(this.store, last.position), events };
    await this.afterAppend(before, found, null).catch(() => undefined);
  }

  /**
   * A repeat answers as its first request did, once the read tables show what it answers with: that request
   * may have failed its own wait (InteractionProjectionTimeoutError, retryable), and a repeat answered at once
   * would be a silent stale read.
   */
  private async shown(last: RecordedEvent): Promise<void> {
    if (!this.projection) return;
    await this.projection.afterAppend({ nextRevision: last.revision, position: await knownPositionOr(this.store, last.position), events: [last] });
  }

  /** `checked`: the events as parsed before the append, when `result` is of that append (not read back). */
  private async afterAppend(before: InteractionState, result: AppendResult, checked: InteractionEvent[] | null): Promise<InteractionState> {
    // Once, for the fold and for publishing: the events parsed before the append are what a parse of
    // the result would give (the same data, the same schemas).
    const parsed = checked
      ? result.events.map((event, i): RecordedInteractionEvent => ({ ...checked[i]!, revision: event.revision, recordedAt: new Date(event.metadata.recordedAt) }))
      : result.events.map(toDomainEvent);
    const after = fold(parsed, before);
    try {
      await this.projection?.afterAppend(result);
    } finally {
      // Published once the read tables show the events; also when that wait timed out (they happened).
      this.publish(result.events, parsed, involvedContactUuids(before.interaction, after.interaction));
    }
    return after;
  }

  // --- Contacts' lifecycle: one interaction's part of a decision (src/lifecycle)

  /**
   * A read–decide–append of one stream like a command's, with the decide given: `decideFor` sees the
   * stream as read (folded, and its events) and returns the events, or 'already' when the stream holds
   * them. Same lock or race retry, parse before append, read-your-writes and publishing as a command.
   * `inSession`, when the store commits in the module's database (PostgreSQL), writes in the session's
   * transaction, so it commits with the append (`committedWith` says whether it did). `beforeRead` runs
   * first in every attempt, given that transaction (null where the session has none).
   */
  async applyToStream(
    interactionUuid: string,
    decideFor: (state: InteractionState, stored: RecordedInteractionEvent[]) => InteractionEvent[] | 'already',
    options: CommandOptions,
    hooks: {
      beforeRead?: (tx: Queryable | null) => Promise<void>;
      inSession?: (tx: Queryable, appends: boolean) => Promise<void>;
    } = {},
  ): Promise<{ outcome: 'appended' | 'already' | 'nothing'; committedWith: boolean }> {
    const { beforeRead, inSession } = hooks;
    const streamName = streamNameOf(interactionUuid);
    const race = { deadline: null as number | null };
    for (let attempt = 0; ; attempt++) {
      const metadata: EventMetadata = {
        actorUuid: options.actorUuid ?? null,
        correlationId: options.correlationId ?? uuidv7(),
        causationId: options.causationId ?? null,
        recordedAt: new Date().toISOString(),
      };
      const state = newAttempt();
      let already = false;
      let committedWith = false;
      try {
        await this.inTurn(streamName, attempt, () => this.store.withStream(streamName, async (session) => {
          await beforeRead?.(session.tx);
          const stored = (await session.readStream()).map(toDomainEvent);
          state.before = fold(stored);
          const events = decideFor(state.before, stored);
          already = events === 'already';
          if (events !== 'already' && events.length > 0) {
            await appendDecided(session, events, metadata, state, stored.at(-1)?.recordedAt.toISOString() ?? null);
          }
          if (inSession && session.tx) {
            await inSession(session.tx, already || state.result !== null);
            committedWith = true;
          }
        }));
      } catch (error) {
        if (error instanceof InteractionUnavailableError && error.committed === 'unknown') {
          if (state.appending.length === 0) throw new InteractionUnavailableError(error.message, false, { cause: error });
          state.result = await this.resolveUnknown(streamName, state, error, null);
          state.checked = null;
        } else if ((error instanceof WrongExpectedVersionError || error instanceof StoreContentionError) && retryRace(race)) {
          await sleep(backoff(attempt));
          continue;
        } else {
          throw racesLost(error);
        }
      }
      if (!state.result) return { outcome: already ? 'already' : 'nothing', committedWith };
      await this.afterAppend(state.before, state.result, state.checked);
      return { outcome: 'appended', committedWith };
    }
  }
  // --- end of contacts' lifecycle

  /**
   * Runs a try of a stream's session; a try after a lost race waits for this process's earlier such tries
   * of the stream first. Writers that keep racing then take turns here, each reading what the one before
   * wrote, instead of all reading and clashing again (where the store has no stream lock to queue them on,
   * EventStoreDB, N racers would need N² tries and run out of time).
   */
  private async inTurn<T>(streamName: string, attempt: number, work: () => Promise<T>): Promise<T> {
    if (attempt === 0) return work();
    const before = this.turns.get(streamName);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.turns.set(streamName, mine);
    try {
      await before;
      return await work();
    } finally {
      done();
      if (this.turns.get(streamName) === mine) this.turns.delete(streamName);
    }
  }

  private publish(events: RecordedEvent[], parsed: readonly InteractionEvent[], involved: string[]): void {
    this.eventBus.publishAll(
      events.map((event, i) => {
        const domain = parsed[i]!;
        const EventClass = PUBLISHED_EVENT_CLASSES[domain.type];
        return new EventClass(
          domain.data.interactionUuid,
          domain.data as never,
          event.metadata,
          event.revision,
          event.position,
          involved,
        );
      }),
    );
  }
}

function pinned(command: InteractionCommand): boolean {
  return command.kind === 'update' && command.expectedVersion !== undefined;
}

/**
 * A store's race error that outlived the retries, as the module's error: nothing was written, and a retry
 * may land (a command that set no expectedVersion is never refused as a conflict).
 */
function racesLost(error: unknown): unknown {
  if (error instanceof WrongExpectedVersionError || error instanceof StoreContentionError) {
    const message = `${error.message}; it kept meeting concurrent writers for ${RACE_DEADLINE_MS / 1000} s`;
    return new InteractionUnavailableError(message, false, { cause: error });
  }
  return error;
}

/** Exponential with full jitter, so racing writers spread out instead of colliding again. */
function backoff(attempt: number): number {
  return Math.random() * Math.min(RACE_BACKOFF_MS.max, RACE_BACKOFF_MS.first * 2 ** attempt);
}

/** The errors after which a command has certainly written nothing. */
function wroteNothing(error: unknown): boolean {
  return (
    error instanceof InteractionValidationError ||
    error instanceof InteractionNotFoundError ||
    error instanceof InteractionConflictError ||
    error instanceof WrongExpectedVersionError ||
    error instanceof StoreContentionError ||
    (error instanceof InteractionUnavailableError && error.committed === false)
  );
}

/**
 * Parse before append: every decided event must match its own schema. A miss is input the validation
 * let through (a bug), reported at the field as a validation error rather than stored. Then the append
 * at the revision read; the parsed events serve the append's inline projection (`parseChecked`), and
 * the fold and publishing after it: each event is parsed once.
 */
async function appendDecided(
  session: StreamSession,
  events: InteractionEvent[],
  metadata: EventMetadata,
  state: Attempt,
  /** When the stream's last event was recorded (null: none). */
  lastRecordedAt: string | null,
): Promise<void> {
  const errors = new ErrorCollector();
  const checked = events.map((event) => {
    const result = checkEvent(event);
    if ('checked' in result) return result.checked;
    for (const issue of result.issues) {
      const path = issue.path.filter((part) => part !== 'changes').join('.');
      errors.add(path || 'interaction', issue.message);
    }
    return event;
  });
  errors.throwIfAny();
  // Never recorded before the event it follows: a command is stamped when it starts, and one that waited
  // (on a directory, on the stream's lock) or another instance's clock could put its events before the
  // stream's last. As-of a time then folds a run from the start, never a state the interaction never had.
  const stamped = lastRecordedAt !== null && Date.parse(lastRecordedAt) > Date.parse(metadata.recordedAt) ? { ...metadata, recordedAt: lastRecordedAt } : metadata;
  const toAppend = events.map((event) => ({ id: uuidv7(), type: event.type, data: event.data, metadata: stamped }));
  state.appending = toAppend.map((event) => event.id);
  state.result = await session.appendToStream(toAppend, state.before.version === -1 ? 'no_stream' : state.before.version);
  state.checked = checked;
}

/**
 * Whether the command's append may fit one statement, so is worth a first try without the stream's lock:
 * a delete, or an edit of attributes only that the projection applies in the append's statement. A guess
 * made before the read (the event holds only what changed): a wrong one costs the try, as the store takes
 * the lock when the append does not fit; a command that never fits (a move, parties) skips it.
 */
function mayFitOneStatement(command: InteractionCommand): boolean {
  if (command.kind === 'delete') return true;
  if (command.kind !== 'update' || command.parties !== null) return false;
  return editFitsAppend(Object.keys(command.attrs).filter((name) => command.attrs[name as keyof typeof command.attrs] !== undefined));
}

/** An edit naming a text: its append may change one text alone, whose search words need the row's other. */
function editsText(command: InteractionCommand): boolean {
  return command.kind === 'update' && (command.attrs.subject !== undefined || command.attrs.body !== undefined);
}

/** The contact and staff uuids a command references: what the decider needs looked up. */
function referencedBy(command: InteractionCommand): [string[], string[]] {
  if (command.kind === 'delete') return [[], []];
  if (command.kind === 'link') return [command.contactUuid ? [command.contactUuid] : [], command.staffPersonUuid ? [command.staffPersonUuid] : []];
  const parties: readonly NormalisedParty[] = command.parties ?? [];
  const contacts = parties.flatMap((p) => (p.contactUuid ? [p.contactUuid] : []));
  if (command.attrs.contactUuid) contacts.unshift(command.attrs.contactUuid);
  return [contacts, parties.flatMap((p) => (p.staffPersonUuid ? [p.staffPersonUuid] : []))];
}
