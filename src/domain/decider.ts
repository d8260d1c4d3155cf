import { isDeepStrictEqual } from 'node:util';
import {
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionValidationError,
  ErrorCollector,
} from './errors';
import { InteractionEvent, InteractionUpdatedData, isoSeconds, PartyLinkedData, truncateToSecond } from './events';
import { ContactRecord, erasedParty, Interaction, Party, PartySnapshot, StaffRecord } from './interaction';
import { ATTR_NAMES, MESSAGES, NormalisedAttrs, NormalisedParty } from './validation';
import { toStorableString } from './storable';

/**
 * The pure core of the write side: `decide` turns a validated command and the folded state into the
 * events to append (or throws a domain error); `evolve` folds one recorded event into the state.
 * No I/O here: the directory lookups and the clock arrive in `DecideContext`.
 */

export interface InteractionState {
  /** null until InteractionLogged; kept (frozen) after deletion so audits can still fold it. */
  interaction: Interaction | null;
  deleted: boolean;
  /** The stream revision of the last folded event; -1 for a stream with no events. */
  version: number;
}

export const initialState: InteractionState = { interaction: null, deleted: false, version: -1 };

/** An event as read back from (or about to be written to) the stream: where and when it was recorded. */
export type RecordedInteractionEvent = InteractionEvent & { revision: number; recordedAt: Date };

export type InteractionCommand =
  | {
      kind: 'create';
      interactionUuid: string;
      attrs: NormalisedAttrs;
      parties: NormalisedParty[];
      fileUuids: string[];
    }
  | {
      kind: 'update';
      interactionUuid: string;
      attrs: Partial<NormalisedAttrs>;
      /** null leaves the parties untouched; a list (also empty) replaces them. */
      parties: NormalisedParty[] | null;
      expectedVersion?: number;
    }
  | { kind: 'delete'; interactionUuid: string }
  /** linkParty: exactly one of the two links is set (the handler checks the input). */
  | { kind: 'link'; interactionUuid: string; position: number; contactUuid: string | null; staffPersonUuid: string | null };

export interface DecideContext {
  now: Date;
  /** Every contact the command references that the ContactDirectory knows, by uuid. */
  contacts: ReadonlyMap<string, ContactRecord>;
  /** Staff records by uuid; null when no StaffDirectory is configured. */
  staff: ReadonlyMap<string, StaffRecord> | null;
}

export function decide(command: InteractionCommand, state: InteractionState, ctx: DecideContext): InteractionEvent[] {
  const { interactionUuid } = command;
  switch (command.kind) {
    case 'create': {
      if (state.version !== -1) throw new InteractionConflictError(interactionUuid, -1, state.version);
      checkContactsExist(command.attrs.contactUuid, command.parties, ctx);
      const { attrs } = command;
      return [
        {
          type: 'InteractionLogged',
          data: {
            schemaVersion: 1,
            interactionUuid,
            contactUuid: attrs.contactUuid,
            interactionType: attrs.interactionType,
            occurredAt: isoSeconds(attrs.occurredAt),
            subject: attrs.subject,
            body: attrs.body,
            ownerUserUuid: attrs.ownerUserUuid,
            metadata: attrs.metadata,
            fileUuids: command.fileUuids,
          },
        },
        {
          type: 'PartiesRebuilt',
          data: { schemaVersion: 1, interactionUuid, parties: rebuildParties(command.parties, [], ctx) },
        },
      ];
    }
    case 'update': {
      const current = liveInteraction(interactionUuid, state);
      if (command.expectedVersion !== undefined && command.expectedVersion !== state.version) {
        throw new InteractionConflictError(interactionUuid, command.expectedVersion, state.version);
      }
      checkContactsExist(command.attrs.contactUuid, command.parties ?? [], ctx);
      const events: InteractionEvent[] = [];
      const changes = changedAttrs(current, command.attrs);
      if (Object.keys(changes).length > 0) {
        events.push({ type: 'InteractionUpdated', data: { schemaVersion: 1, interactionUuid, changes } });
      }
      if (command.parties !== null) {
        const parties = rebuildParties(command.parties, current.parties, ctx);
        if (!isDeepStrictEqual(parties, current.parties)) {
          events.push({ type: 'PartiesRebuilt', data: { schemaVersion: 1, interactionUuid, parties } });
        }
      }
      return events;
    }
    case 'delete':
      liveInteraction(interactionUuid, state);
      return [{ type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid } }];
    case 'link':
      return decideLink(command, liveInteraction(interactionUuid, state), ctx);
  }
}

export function evolve(state: InteractionState, event: RecordedInteractionEvent): InteractionState {
  const at = truncateToSecond(event.recordedAt);
  const version = event.revision;
  const current = state.interaction;
  switch (event.type) {
    case 'InteractionLogged': {
      const { schemaVersion: _v, interactionUuid, occurredAt, ...attrs } = event.data;
      const interaction: Interaction = {
        uuid: interactionUuid,
        ...attrs,
        occurredAt: new Date(occurredAt),
        insertedAt: at,
        updatedAt: at,
        version,
        parties: [],
      };
      return { interaction, deleted: false, version };
    }
    case 'InteractionUpdated': {
      if (!current) return { ...state, version };
      const { occurredAt, ...changes } = event.data.changes;
      const interaction: Interaction = {
        ...current,
        ...changes,
        ...(occurredAt !== undefined && { occurredAt: new Date(occurredAt) }),
        updatedAt: at,
        version,
      };
      return { ...state, interaction, version };
    }
    case 'PartiesRebuilt': {
      if (!current) return { ...state, version };
      return { ...state, interaction: { ...current, parties: event.data.parties, updatedAt: at, version }, version };
    }
    case 'InteractionDeleted':
      return { ...state, deleted: true, version };
    case 'PartyLinked': {
      if (!current) return { ...state, version };
      const parties = withPartyLinked(current.parties, event.data);
      return { ...state, interaction: { ...current, parties, updatedAt: at, version }, version };
    }
    // Contacts' lifecycle: links change, snapshots never do.
    case 'PartiesUnlinked':
    case 'ContactRepointed': {
      if (!current) return { ...state, version };
      const parties = withLinksChanged(current.parties, event);
      const contactUuid = event.type === 'ContactRepointed' && event.data.subject ? event.data.intoContactUuid : current.contactUuid;
      return { ...state, interaction: { ...current, contactUuid, parties, updatedAt: at, version }, version };
    }
  }
}

/**
 * The parties after a PartiesUnlinked or ContactRepointed: the link at its positions nulled or re-pointed,
 * every other key (snapshot included) kept, unless the contact was forgotten: then the party is erased.
 */
export function withLinksChanged(
  parties: readonly Party[],
  event: Extract<InteractionEvent, { type: 'PartiesUnlinked' | 'ContactRepointed' }>,
): Party[] {
  const at = new Set(event.data.positions);
  const change = (party: Party): Party => {
    if (event.type === 'ContactRepointed') return { ...party, contactUuid: event.data.intoContactUuid };
    const { contactUuid, reason } = event.data;
    if (contactUuid === null) return { ...party, staffPersonUuid: null };
    if (reason !== 'contact_forgotten') return { ...party, contactUuid: null };
    // Erased at the position (its key is gone); a link to someone else (same rawName, one key) stays.
    const theirs = party.contactUuid !== null && party.contactUuid.toLowerCase() === contactUuid.toLowerCase();
    return erasedParty(theirs ? { ...party, contactUuid: null } : party);
  };
  return parties.map((party) => (at.has(party.position) ? change(party) : party));
}

/** Folds a whole stream (or a prefix of it, for point-in-time reads). */
export function fold(events: Iterable<RecordedInteractionEvent>, state: InteractionState = initialState): InteractionState {
  let folded = state;
  for (const event of events) folded = evolve(folded, event);
  return folded;
}

/**
 * The identity that decides whether a party keeps its frozen snapshot across rebuilds. Uuids compare in
 * lower case: events written before uuids were normalised may hold upper-case ones.
 */
export function partyIdentity(party: Pick<Party, 'rawName' | 'contactUuid' | 'staffPersonUuid'>): string {
  if (party.contactUuid) return `contact:${party.contactUuid.toLowerCase()}`;
  if (party.staffPersonUuid) return `staff:${party.staffPersonUuid.toLowerCase()}`;
  return `raw:${party.rawName.trim()}`;
}

// --- Late linking (linkParty)

type LinkCommand = Extract<InteractionCommand, { kind: 'link' }>;

/**
 * Links the free-text party at `position` with a snapshot taken now. Linking it to what it is already
 * linked to changes nothing (no event); a party linked to another contact or staff person is refused:
 * its snapshot is frozen, and re-pointing links is what `contactsMerged` or a new party list is for. An
 * erased party is refused too: it was the forgotten contact, and a link would pass it off as another.
 */
function decideLink(command: LinkCommand, current: Interaction, ctx: DecideContext): InteractionEvent[] {
  const { interactionUuid, position, contactUuid, staffPersonUuid } = command;
  const party = current.parties.find((p) => p.position === position);
  if (!party) throw new InteractionValidationError({ position: [MESSAGES.doesNotExist] });
  const linked = party.contactUuid?.toLowerCase() ?? null;
  const linkedStaff = party.staffPersonUuid?.toLowerCase() ?? null;
  if (linked === contactUuid && linkedStaff === staffPersonUuid) return [];
  if (linked !== null || linkedStaff !== null) throw new InteractionValidationError({ position: [MESSAGES.alreadyLinked] });
  if (party.snapshot.source === 'erased') throw new InteractionValidationError({ position: [MESSAGES.erased] });
  if (contactUuid !== null && !ctx.contacts.has(contactUuid)) {
    throw new InteractionValidationError({ contactUuid: [MESSAGES.doesNotExist] });
  }
  const input: NormalisedParty = { rawName: party.rawName, contactUuid, staffPersonUuid, inputIndex: position };
  const snapshot = captureSnapshot(input, isoSeconds(ctx.now), ctx);
  return [{ type: 'PartyLinked', data: { schemaVersion: 1, interactionUuid, position, contactUuid, staffPersonUuid, snapshot } }];
}

/** The parties after a PartyLinked: the one at its position gets the link and the snapshot, rawName kept. */
export function withPartyLinked(parties: readonly Party[], data: PartyLinkedData): Party[] {
  return parties.map((party) =>
    party.position === data.position
      ? { ...party, contactUuid: data.contactUuid, staffPersonUuid: data.staffPersonUuid, snapshot: data.snapshot }
      : party,
  );
}
// --- end of late linking

function liveInteraction(interactionUuid: string, state: InteractionState): Interaction {
  if (!state.interaction || state.deleted) throw new InteractionNotFoundError(interactionUuid);
  return state.interaction;
}

function checkContactsExist(
  subjectUuid: string | undefined,
  parties: readonly NormalisedParty[],
  ctx: DecideContext,
): void {
  const errors = new ErrorCollector();
  if (subjectUuid !== undefined && !ctx.contacts.has(subjectUuid)) errors.add('contactUuid', MESSAGES.doesNotExist);
  for (const party of parties) {
    if (party.contactUuid && !ctx.contacts.has(party.contactUuid)) {
      errors.add(`parties.${party.inputIndex}.contactUuid`, MESSAGES.doesNotExist);
    }
  }
  errors.throwIfAny();
}

function changedAttrs(current: Interaction, attrs: Partial<NormalisedAttrs>): InteractionUpdatedData['changes'] {
  const changes: InteractionUpdatedData['changes'] = {};
  for (const name of ATTR_NAMES) {
    const next = attrs[name];
    if (next === undefined) continue;
    if (name === 'occurredAt') {
      if ((next as Date).getTime() !== current.occurredAt.getTime()) changes.occurredAt = isoSeconds(next as Date);
    } else if (!isDeepStrictEqual(next, current[name])) {
      Object.assign(changes, { [name]: next });
    }
  }
  return changes;
}

/**
 * The parties as given, each keeping the frozen snapshot of the party it was. A merge, a late link or a
 * deletion can leave two parties of one identity with snapshots of their own: each previous party's
 * snapshot goes to one input, first to one of the same identity and name, then of the same identity, in
 * order. An input beyond them takes its identity's first snapshot; a new identity, a snapshot now.
 */
function rebuildParties(inputs: readonly NormalisedParty[], previous: readonly Party[], ctx: DecideContext): Party[] {
  const unused = previous.map((party) => ({ identity: partyIdentity(party), rawName: party.rawName, snapshot: party.snapshot }));
  const first = new Map<string, PartySnapshot>();
  for (const { identity, snapshot } of [...unused].reverse()) first.set(identity, snapshot);
  const identities = inputs.map(partyIdentity);
  const snapshots: (PartySnapshot | undefined)[] = inputs.map(() => undefined);
  for (const sameName of [true, false]) {
    inputs.forEach((input, i) => {
      if (snapshots[i]) return;
      const at = unused.findIndex((p) => p.identity === identities[i] && (!sameName || p.rawName === input.rawName));
      if (at >= 0) snapshots[i] = unused.splice(at, 1)[0]!.snapshot;
    });
  }
  const capturedAt = isoSeconds(ctx.now);
  return inputs.map((input, position) => ({
    rawName: input.rawName,
    contactUuid: input.contactUuid,
    staffPersonUuid: input.staffPersonUuid,
    position,
    snapshot: snapshots[position] ?? first.get(identities[position]!) ?? captureSnapshot(input, capturedAt, ctx),
  }));
}

function captureSnapshot(party: NormalisedParty, capturedAt: string, ctx: DecideContext): PartySnapshot {
  if (party.contactUuid) {
    const contact = ctx.contacts.get(party.contactUuid);
    if (!contact) throw new InteractionValidationError({ [`parties.${party.inputIndex}.contactUuid`]: [MESSAGES.doesNotExist] });
    return {
      source: 'crm_contact',
      name: present(contact.name) ?? present(contact.email) ?? 'Unnamed',
      ...definedEntries({
        company: contact.company,
        roleInCompany: contact.roleInCompany,
        department: contact.department,
      }),
      capturedAt,
    };
  }
  if (party.staffPersonUuid) {
    const staff = ctx.staff?.get(party.staffPersonUuid);
    return {
      source: 'staff',
      ...(staff && definedEntries({ name: staff.name, jobTitle: staff.jobTitle, employmentType: staff.employmentType })),
      capturedAt,
    };
  }
  return { source: 'free_text', capturedAt };
}

/**
 * A directory's text as a snapshot keeps it: a blank or non-string value is left out, and characters the
 * stores cannot hold (a NUL, a lone surrogate) read U+FFFD. The directory's data is not the caller's input,
 * so refusing it would refuse a command the caller cannot mend.
 */
function present(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? toStorableString(value) : undefined;
}

/** Keeps only the keys with a non-blank value: snapshots leave out keys with no value. */
function definedEntries<K extends string>(entries: Record<K, string | null | undefined>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [key, value] of Object.entries(entries) as [K, string | null | undefined][]) {
    const kept = present(value);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}
