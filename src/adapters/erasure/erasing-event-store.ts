import { Database, Queryable } from '../../ports/database';
import {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  RecordedEvent,
  StreamLockNeeded,
  StreamOptions,
  StreamSession,
  WrongExpectedVersionError,
} from '../../ports/event-store';
import { InteractionUnavailableError, InteractionValidationError } from '../../domain/errors';
import { streamNameOf } from '../../domain/events';
import { ERASED } from '../../domain/interaction';
import {
  addOwner,
  confirmClaim,
  dropWithdrawnRows,
  ensureKeys,
  fetchKeys,
  fetchOwnedKeys,
  keysAfterRead,
  moveOwnership,
  newKeys,
  OwnedKey,
  OwnerClaim,
  ownedKeysOf,
  recordClaim,
  setContentOwner,
  unsettledClaims,
  withdrawClaim,
} from './key-store';
import { interactionOfStream } from '../../../projections/interactions.projection';
import { CONTENT_TAG, ErasureKey, keyIdsOf, openEvent, PartyTags, partyTagsOf, sealEvent, tagsOf } from './sealing';

type Json = Record<string, unknown>;

/** What a pass of `settleClaims` did: claims confirmed, claims (and claimless rows) withdrawn, interactions left. */
export interface SettledClaims {
  confirmed: number;
  withdrawn: number;
  failures: Array<{ interactionUuid: string; error: unknown }>;
}

/**
 * Crypto-shredding around any event store: events go in with their personal fields sealed under keys
 * kept in the module's database, and come out opened, or erased where a key has been destroyed.
 * Everything above it (write side, projections, history, as-of) sees plain events; everything below it
 * (the PostgreSQL log, EventStoreDB) holds only sealed ones. Key writes happen in the append's
 * transaction when the log is in the module's database, before the append otherwise (a key whose
 * append then fails seals nothing).
 */
export class ErasingEventStore implements EventStore {
  /** Plain data of events being appended, by event id: what an inline projection of them reads. */
  private readonly appending = new Map<string, unknown>();

  constructor(
    readonly inner: EventStore,
    private readonly db: Database,
  ) {}

  withStream<T>(streamName: string, work: (session: StreamSession) => Promise<T>, options?: StreamOptions): Promise<T> {
    return this.inner.withStream(streamName, (session) => this.openedSession(streamName, session, work), options);
  }

  /** `work` on the inner store's session of `streamName`, reading the stream opened and appending it sealed. */
  private openedSession<T>(streamName: string, session: StreamSession, work: (session: StreamSession) => Promise<T>): Promise<T> {
    const q = session.tx ?? this.db;
    // The stream as the session read it, opened, and the keys that opened it (by tag, with their owners).
    let read: { events: RecordedEvent[]; keys: Map<string, OwnedKey> } | null = null;
    const readStream = async () => {
      const keys = new Map<string, OwnedKey>();
      const interactionUuid = interactionOfStream(streamName);
      if (session.readStreamWith && interactionUuid !== null) {
        // The keys in the read's own round trip (after its lock, see the migration).
        const { events, also } = await session.readStreamWith(keysAfterRead(interactionUuid));
        read = { events: await this.open(events, q, keys, ownedKeysOf(also)), keys };
      } else {
        read = { events: await this.open(await session.readStream(), q, keys), keys };
      }
      return read.events;
    };
    return work({
      tx: session.tx,
      optimistic: session.optimistic,
      readStream,
      appendToStream: async (events, expected) => {
        // What the stream holds already: as the session read it, else read now (a new stream needs nothing).
        if (read === null && events[0]?.type !== 'InteractionLogged') await readStream();
        return this.append(streamName, events, q, read ?? { events: [], keys: new Map() }, session, (sealed) =>
          session.appendToStream(sealed, expected),
        );
      },
    });
  }

  /**
   * A new interaction's stream: its keys are made here and written with its events, in the inner store's
   * one statement where it has one (a new interaction has no keys yet).
   */
  async createStream(streamName: string, events: EventToAppend[]): Promise<AppendResult> {
    const interactionUuid = interactionOf(streamName, events);
    const inner = this.inner;
    if (!inner.createStream || interactionUuid === null) return this.appendToStream(streamName, events, 'no_stream');
    const noParty = () => null;
    const partyTags = partyTagsOf(interactionUuid);
    const tags = events.flatMap((e) => tagsOf(e.type, e.data as Json, partyTags, noParty));
    const owners = ownersOf(events, partyTags, noParty);
    const subject = subjectOf(events);
    if (subject !== null && tags.includes(CONTENT_TAG)) owners.push({ tag: CONTENT_TAG, contactUuid: subject });
    const { keys, part } = newKeys(interactionUuid, tags, owners);
    return this.withPlain(events, keys, interactionUuid, partyTags, noParty, (sealed) => inner.createStream!(streamName, sealed, [part]));
  }

  appendToStream(streamName: string, events: EventToAppend[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.withStream(streamName, (session) => session.appendToStream(events, expected));
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    return this.open(await this.inner.readStream(streamName), this.db);
  }

  async *readAll(from?: Position, options: ReadAllOptions = {}): AsyncIterable<RecordedEvent[]> {
    for await (const batch of this.inner.readAll(from, options)) yield await this.open(batch, options.within ?? this.db);
  }

  headPosition(): Promise<Position> {
    return this.inner.headPosition();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Opens events read from the inner store (a subscription's, an inline projection's): events this
   * store is appending come from memory, the others' keys in one query, or from `read` (keys by id read
   * with the events). With `owned`, the keys found go there by tag, with their owners (a stream
   * session's read, for its append).
   */
  async open(
    events: RecordedEvent[],
    q: Queryable = this.db,
    owned?: Map<string, OwnedKey>,
    read?: ReadonlyMap<string, OwnedKey>,
  ): Promise<RecordedEvent[]> {
    // Taken before the key query: an append that ends during it takes its plain data out of `appending`,
    // and its events must not then be opened with keys that were never fetched for them (read as erased).
    const plain = events.map((event) => this.appending.get(event.id));
    const needed = events.filter((_, i) => plain[i] === undefined).flatMap((event) => keyIdsOf(event.data));
    let keys: ReadonlyMap<string, ErasureKey> = new Map();
    if (needed.length > 0 && owned) {
      const found = read ? pick(read, needed) : await fetchOwnedKeys(q, needed);
      for (const key of found.values()) owned.set(key.tag, key);
      keys = found;
    } else if (needed.length > 0) {
      keys = await fetchKeys(q, needed);
    }
    return events.map((event, i) => {
      if (plain[i] !== undefined) return { ...event, data: plain[i] };
      return keyIdsOf(event.data).length > 0 ? { ...event, data: openEvent(event.type, event.data, keys) } : event;
    });
  }

  private async append(
    streamName: string,
    events: EventToAppend[],
    q: Queryable,
    stream: { events: RecordedEvent[]; keys: ReadonlyMap<string, OwnedKey> },
    /**
     * `optimistic`: it appends in one statement, so no key or owner may be written before it. `tx`: keys
     * and owners go in the append's transaction; without one (EventStoreDB) they are claimed.
     */
    session: Pick<StreamSession, 'optimistic' | 'tx'>,
    appendSealed: (sealed: EventToAppend[]) => Promise<AppendResult>,
  ): Promise<AppendResult> {
    const interactionUuid = interactionOf(streamName, events);
    if (interactionUuid === null) {
      // Not one interaction's events in its own stream: nothing to seal them for, and nothing personal
      // may go into the log in clear.
      if (events.some((e) => PERSONAL_EVENT_TYPES.has(e.type))) {
        throw new Error(`refusing to append ${events.map((e) => e.type).join(', ')} to ${streamName}: their data names another interaction`);
      }
      return appendSealed(events);
    }
    const all = [...stream.events, ...events];
    const rawNameAt = (position: number) => rawNameAtPosition(all, position);
    const partyTags = partyTagsOf(interactionUuid);
    const tags = events.flatMap((e) => tagsOf(e.type, e.data as Json, partyTags, rawNameAt));
    const owners = ownersOf(events, partyTags, rawNameAt);
    // The content key is the subject's, also when an update is the first to need it again (a racing
    // erasure on EventStoreDB may have just destroyed it: the new one must be found by the next try).
    const subject = subjectOf(all);
    if (subject !== null && tags.includes(CONTENT_TAG)) owners.push({ tag: CONTENT_TAG, contactUuid: subject });
    const found = keysRead(stream.keys, tags, owners);
    const writesOwners = (found === null && tags.length > 0) || events.some(changesOwnership);
    if (session.optimistic === true && writesOwners) throw new StreamLockNeeded(streamName);
    // The append's first event id: the log tells whether an append that never answered landed (`settleClaims`).
    const claim: OwnerClaim = writesOwners && !session.tx ? events[0]!.id : null;
    let sent = false;
    let result: AppendResult;
    try {
      if (claim !== null) await recordClaim(q, interactionUuid, claim);
      const readRevision = stream.events.length > 0 ? stream.events[stream.events.length - 1]!.revision : null;
      const keys = found ?? (await ensureKeys(q, interactionUuid, tags, owners, claim, readRevision));
      await this.changeOwnership(session.tx, interactionUuid, events, 'add', claim);
      result = await this.withPlain(events, keys, interactionUuid, partyTags, rawNameAt, (sealed) => ((sent = true), appendSealed(sealed)));
    } catch (error) {
      // Nothing of it was or will be written: the owners it added for it must not stay. An outcome not
      // known keeps them (a forget then destroys too much rather than too little).
      if (claim !== null && (!sent || certainlyNotWritten(error))) await withdrawClaim(q, interactionUuid, claim).catch(() => undefined);
      throw error;
    }
    // In the append's transaction these fail it. After an append that landed in another store they cannot
    // undo it, and its command succeeded: an old owner or a claim left errs toward erasing more, never less,
    // and the append stays unsettled (unconfirmed), for `settleClaims` to take its steps again.
    let stepsTaken = true;
    const afterLanding = (step: () => Promise<void>) => step().catch((error: unknown) => {
      if (session.tx) throw error;
      stepsTaken = false;
    });
    await afterLanding(() => this.changeOwnership(session.tx, interactionUuid, events, { landed: result }, claim));
    if (claim !== null && stepsTaken) await afterLanding(() => confirmClaim(q, interactionUuid, claim));
    return result;
  }

  /**
   * Settles the claims appends left unsettled because their outcome never came back (EventStoreDB out of
   * reach past the adapter's resend window; appends recorded over `olderThanMs` ago, at most `limit`):
   * an append the log holds landed, and gets the owner steps it missed (the old subject dropped, unless a
   * later move set the owners already) and its claim confirmed; one the log does not hold an hour after
   * it was made never will, and its claim is withdrawn (as are rows a withdrawal left without a claim).
   * Each step is one a late append takes too, so passes may run anywhere and overlap. An interaction
   * whose stream cannot be read now is left for the next pass, and named in `failures`. `ofContact`: only
   * the appends to interactions the contact owns a key of (what a forget of hers would destroy).
   */
  async settleClaims(olderThanMs: number, limit = 1_000, ofContact?: string): Promise<SettledClaims> {
    const settled: SettledClaims = { confirmed: 0, withdrawn: 0, failures: [] };
    if (ofContact === undefined) settled.withdrawn += await dropWithdrawnRows(this.db, olderThanMs);
    const claims = await unsettledClaims(this.db, olderThanMs, limit, ofContact);
    for (const interactionUuid of new Set(claims.map((c) => c.interactionUuid))) {
      try {
        const stored = await this.inner.readStream(streamNameOf(interactionUuid));
        for (const { claim, lapsed } of claims.filter((c) => c.interactionUuid === interactionUuid)) {
          const landed = appendStartingAt(stored, claim);
          if (landed.length > 0) {
            await this.changeOwnership(null, interactionUuid, landed, { landed: { events: landed } }, claim);
            await confirmClaim(this.db, interactionUuid, claim);
            settled.confirmed++;
          } else if (lapsed) {
            await withdrawClaim(this.db, interactionUuid, claim);
            settled.withdrawn++;
          }
        }
      } catch (error) {
        settled.failures.push({ interactionUuid, error });
        if (error instanceof InteractionUnavailableError) break; // out of reach: so are the others, for now
      }
    }
    return settled;
  }

  /** Seals the events with `keys` and appends them; the result (and an inline projection) reads them plain. */
  private async withPlain(
    events: EventToAppend[],
    keys: ReadonlyMap<string, ErasureKey>,
    interactionUuid: string,
    partyTags: PartyTags,
    rawNameAt: (position: number) => string | null,
    appendSealed: (sealed: EventToAppend[]) => Promise<AppendResult>,
  ): Promise<AppendResult> {
    const keyOf = (tag: string) => {
      const key = keys.get(tag);
      if (!key) throw new Error(`erasure key ${tag === CONTENT_TAG ? 'content' : 'party'} of interaction ${interactionUuid} is missing`);
      return key;
    };
    const sealed = events.map((e) => ({ ...e, data: sealEvent(e.type, e.data as Json, partyTags, { keyOf }, rawNameAt) }));
    for (const event of events) this.appending.set(event.id, event.data);
    try {
      const result = await appendSealed(sealed);
      const plain = new Map(events.map((e) => [e.id, e.data]));
      return { ...result, events: result.events.map((event) => (plain.has(event.id) ? { ...event, data: plain.get(event.id) } : event)) };
    } finally {
      for (const event of events) this.appending.delete(event.id);
    }
  }

  /**
   * A subject changed by an update, or a contact merged into another: the keys follow. The new owner is
   * added before the append and the old one dropped after it (`landed`), so an append that fails (without
   * a transaction around both, on EventStoreDB) never leaves a key without the owner of what it seals. A
   * subject move whose owners a later move set already (this one's steps ran late) changes nothing, and
   * its claim on the content key goes: the content follows the later subject.
   */
  private async changeOwnership(
    /** The append's transaction, if any: the owners of a subject move are set in one (`setContentOwner`). */
    q: Queryable | null,
    interactionUuid: string,
    events: EventToAppend[],
    step: 'add' | { landed: Pick<AppendResult, 'events'> },
    claim: OwnerClaim,
  ): Promise<void> {
    const db = q ?? this.db;
    for (const event of events) {
      const change = changesOwnership(event);
      if (change === null) continue;
      if (step === 'add') {
        const of = 'subject' in change ? { tag: CONTENT_TAG } : { contactUuid: change.from };
        await addOwner(db, interactionUuid, of, 'subject' in change ? change.subject : change.into, claim);
        continue;
      }
      const subject = 'subject' in change ? change.subject : change.repointsSubject ? change.into : null;
      if (subject !== null) {
        const revision = step.landed.events.find((landed) => landed.id === event.id)!.revision;
        const set = (tx: Queryable) => setContentOwner(tx, interactionUuid, subject, revision, claim !== null);
        const applied = await (q ? set(q) : this.db.transaction(set));
        if (!applied && claim !== null) await withdrawClaim(db, interactionUuid, claim, CONTENT_TAG);
      }
      if ('from' in change) await moveOwnership(db, interactionUuid, change.from, change.into, change.repointsSubject, claim !== null);
    }
  }
}

/**
 * The events of the append whose first event is `firstId`, as the stream holds them (none when it holds
 * no such event): the ones from it on that its command wrote (the same metadata, as one append's share).
 */
function appendStartingAt(stored: RecordedEvent[], firstId: string): RecordedEvent[] {
  const at = stored.findIndex((event) => event.id === firstId);
  if (at < 0) return [];
  const { correlationId, recordedAt } = stored[at]!.metadata ?? {};
  if (correlationId === undefined) return [stored[at]!];
  let end = at + 1;
  while (end < stored.length && stored[end]!.metadata?.correlationId === correlationId && stored[end]!.metadata?.recordedAt === recordedAt) end++;
  return stored.slice(at, end);
}

/** An append's failure after which nothing of it is in the log, nor ever will be (a refused input too). */
function certainlyNotWritten(error: unknown): boolean {
  return (
    error instanceof WrongExpectedVersionError ||
    error instanceof InteractionValidationError ||
    (error instanceof InteractionUnavailableError && error.committed === false)
  );
}

/** The change of owners an event makes to keys: a new subject, or a contact merged into another. */
function changesOwnership({ type, data }: EventToAppend): { subject: string } | { from: string; into: string; repointsSubject: boolean } | null {
  const d = data as Json;
  const changes = d.changes as Json | undefined;
  if (type === 'InteractionUpdated' && typeof changes?.contactUuid === 'string') return { subject: changes.contactUuid };
  if (type === 'ContactRepointed' && typeof d.fromContactUuid === 'string' && typeof d.intoContactUuid === 'string') {
    return { from: d.fromContactUuid, into: d.intoContactUuid, repointsSubject: d.subject === true };
  }
  return null;
}

/**
 * The keys of `tags` as the session's read found them, when it found every one with every owner wanted:
 * then `ensureKeys` would create and add nothing, and its statement is spared (an update of a subject or
 * body needs only the content key, owned by the subject). Null when something is missing. A key read here
 * and destroyed before the append commits is the same race as with `ensureKeys`'s own read: what it seals
 * reads as erased, as the erasure meant.
 */
function keysRead(
  known: ReadonlyMap<string, OwnedKey>,
  tags: readonly string[],
  owners: ReadonlyArray<{ tag: string; contactUuid: string }>,
): Map<string, ErasureKey> | null {
  if (tags.length === 0) return null;
  const keys = new Map<string, ErasureKey>();
  for (const tag of tags) {
    const key = known.get(tag);
    if (!key) return null;
    keys.set(tag, key);
  }
  return owners.every(({ tag, contactUuid }) => known.get(tag)?.owners.has(contactUuid.toLowerCase())) ? keys : null;
}

/** The event types with personal fields (see sealing.ts). */
const PERSONAL_EVENT_TYPES = new Set(['InteractionLogged', 'InteractionUpdated', 'PartiesRebuilt', 'PartyLinked']);

/** The keys of `read` that `keyIds` name: what `fetchOwnedKeys` finds for them. */
function pick(read: ReadonlyMap<string, OwnedKey>, keyIds: readonly string[]): Map<string, OwnedKey> {
  const found = new Map<string, OwnedKey>();
  for (const keyId of keyIds) {
    const key = read.get(keyId);
    if (key) found.set(keyId, key);
  }
  return found;
}

/** The interaction the stream is of, as its events name it (lower case); null for a stream of none. */
function interactionOf(streamName: string, events: EventToAppend[]): string | null {
  const named = (events[0]?.data as Json | undefined)?.interactionUuid;
  if (typeof named !== 'string' || streamName.toLowerCase() !== `interaction-${named.toLowerCase()}`) return null;
  return named.toLowerCase();
}

/** The interaction's subject after these (plain) events; null before its InteractionLogged. */
function subjectOf(events: ReadonlyArray<{ type: string; data: unknown }>): string | null {
  let subject: string | null = null;
  for (const { type, data } of events) {
    const d = data as Json;
    const changes = d.changes as Json | undefined;
    if (type === 'InteractionLogged' && typeof d.contactUuid === 'string') subject = d.contactUuid;
    else if (type === 'InteractionUpdated' && typeof changes?.contactUuid === 'string') subject = changes.contactUuid;
    else if (type === 'ContactRepointed' && d.subject === true && typeof d.intoContactUuid === 'string') subject = d.intoContactUuid;
  }
  return subject;
}

/** Who owns the keys an event seals with: the contact a party is linked to. */
function ownersOf(
  events: EventToAppend[],
  partyTags: PartyTags,
  rawNameAt: (position: number) => string | null,
): Array<{ tag: string; contactUuid: string }> {
  return events.flatMap(({ type, data }) => {
    const d = data as Json;
    if (type === 'PartiesRebuilt' && Array.isArray(d.parties)) {
      return (d.parties as Json[]).flatMap((p) =>
        typeof p.contactUuid === 'string' ? [{ tag: partyTags(String(p.rawName)), contactUuid: p.contactUuid }] : [],
      );
    }
    if (type === 'PartyLinked' && typeof d.contactUuid === 'string') {
      const rawName = rawNameAt(Number(d.position));
      return rawName === null ? [] : [{ tag: partyTags(rawName), contactUuid: d.contactUuid }];
    }
    return [];
  });
}

/** The rawName of the party at `position` after these (plain) events, or null when there is none. */
function rawNameAtPosition(events: ReadonlyArray<{ type: string; data: unknown }>, position: number): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const { type, data } = events[i]!;
    const d = data as Json;
    if (type === 'PartiesUnlinked' && d.reason === 'contact_forgotten' && (d.positions as unknown[]).includes(position)) return ERASED;
    if (type === 'PartiesRebuilt' && Array.isArray(d.parties)) {
      const party = (d.parties as Json[]).find((p) => p.position === position);
      return typeof party?.rawName === 'string' ? party.rawName : null;
    }
  }
  return null;
}
