import { InteractionState, RecordedInteractionEvent } from '../domain/decider';
import { InteractionEvent } from '../domain/events';
import { Party } from '../domain/interaction';

/**
 * The process manager's pure core: what one lifecycle decision does to one interaction. No I/O; the
 * fan-out (fan-out.ts) runs it inside an ordinary write-side session of each affected stream.
 */

export type LifecycleKind = 'contact_deleted' | 'staff_person_deleted' | 'contacts_merged' | 'contact_forgotten';

/** A recorded decision: its id goes into every event it causes, so a stream is never done twice. */
export type LifecycleDecision =
  | { decisionId: string; kind: 'contact_deleted'; contactUuid: string }
  | { decisionId: string; kind: 'staff_person_deleted'; staffPersonUuid: string }
  | { decisionId: string; kind: 'contacts_merged'; fromUuid: string; intoUuid: string }
  | { decisionId: string; kind: 'contact_forgotten'; contactUuid: string };

/** What forgetting did to one interaction's content, and who counts as the forgotten contact. */
export interface Forgotten {
  /** Its content key went with the contact's keys (`destroyKeysPlanning`). */
  contentErased: boolean;
  /** The subject its read row showed when the content key went; null when none, or it did not go. */
  erasedSubject: string | null;
  /** The contacts merged with the forgotten one, either way (`mergedWith`), lower case. */
  mergedWith: readonly string[];
  /** The positions an earlier forget erased and unlinked (`unlinkedByForgets`): nothing is left to do there. */
  unlinkedBefore?: ReadonlySet<number>;
}

/**
 * The positions a forget has erased and unlinked since the parties were last rebuilt. Another forget of
 * her (two at once, or a merged contact's) leaves them: its repeat affects nothing more.
 */
export function unlinkedByForgets(events: readonly RecordedInteractionEvent[]): Set<number> {
  let positions = new Set<number>();
  for (const event of events) {
    if (event.type === 'PartiesRebuilt') positions = new Set();
    else if (event.type === 'PartiesUnlinked' && event.data.reason === 'contact_forgotten') event.data.positions.forEach((at) => positions.add(at));
  }
  return positions;
}

/** Whether the stream already holds an event of this decision (a resumed fan-out skips it). */
export function holdsDecision(events: readonly RecordedInteractionEvent[], decisionId: string): boolean {
  return events.some((event) => (event.data as { decisionId?: string }).decisionId === decisionId);
}

const same = (a: string | null, b: string) => a !== null && a.toLowerCase() === b;
const positionsWhere = (parties: readonly Party[], linked: (party: Party) => boolean) =>
  parties.filter(linked).map((party) => party.position);

/**
 * The events the decision means for this interaction as it is now: none for an interaction that is
 * gone or no longer linked (an update got there first), else one event. Uuids in the decision are lower
 * case; the stream's are compared in lower case (old events may hold upper-case ones). `forgotten`, for a
 * forget: what it did to the interaction's content (`Forgotten`).
 */
export function decideForInteraction(
  decision: LifecycleDecision,
  state: InteractionState,
  forgotten: Forgotten = { contentErased: false, erasedSubject: null, mergedWith: [] },
): InteractionEvent[] {
  const current = state.interaction;
  if (!current || state.deleted) return [];
  const { decisionId } = decision;
  const interactionUuid = current.uuid;
  switch (decision.kind) {
    case 'contact_deleted': {
      const { contactUuid } = decision;
      if (same(current.contactUuid, contactUuid)) {
        return [{ type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid, reason: 'contact_deleted', decisionId } }];
      }
      const positions = positionsWhere(current.parties, (p) => same(p.contactUuid, contactUuid));
      if (positions.length === 0) return [];
      const data = { schemaVersion: 1 as const, interactionUuid, positions, contactUuid, staffPersonUuid: null, decisionId };
      return [{ type: 'PartiesUnlinked', data: { ...data, reason: 'contact_deleted' } }];
    }
    case 'contact_forgotten': {
      // Decided on the stream as it reads once the contact's keys are destroyed: what was the contact's
      // reads erased, including parties a contactDeleted had unlinked before. An interaction whose content
      // key went with hers is hers where she, or a contact merged with her (either way), is its subject, or
      // was when the key went: a create that raced a merge into her still names the merged contact; a merge
      // of her into another, or an update moving it to anyone, that raced the forget changed the subject
      // after her keys went, and its read row still showed her content. Gone with it; never one of anyone
      // else's, not even one that was hers before her keys went (a content key she owns by mistake).
      // A merge made them one person: a contact merged with her, either way, is forgotten with her.
      const { contactUuid } = decision;
      const hers = (subject: string | null) => same(subject, contactUuid) || forgotten.mergedWith.some((uuid) => same(subject, uuid));
      const wasHers = forgotten.contentErased && (hers(current.contactUuid) || hers(forgotten.erasedSubject));
      if (same(current.contactUuid, contactUuid) || wasHers) {
        return [{ type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid, reason: 'contact_forgotten', decisionId } }];
      }
      // One PartiesUnlinked per contact of hers linked here (it unlinks that contact's parties), her own also
      // taking the erased parties linked to nobody of hers (a party key she shared with someone else).
      const linkedTo = (uuid: string) => positionsWhere(current.parties, (p) => same(p.contactUuid, uuid));
      const mergedOnes = forgotten.mergedWith.map((uuid) => ({ uuid, positions: linkedTo(uuid) }));
      const elsewhere = new Set(mergedOnes.flatMap((m) => m.positions));
      const erasedHere = (p: Party) => p.snapshot.source === 'erased' && !forgotten.unlinkedBefore?.has(p.position);
      const own = positionsWhere(current.parties, (p) => !elsewhere.has(p.position) && (same(p.contactUuid, contactUuid) || erasedHere(p)));
      const unlinked = (uuid: string, positions: number[]): InteractionEvent => ({
        type: 'PartiesUnlinked',
        data: { schemaVersion: 1, interactionUuid, positions, contactUuid: uuid, staffPersonUuid: null, reason: 'contact_forgotten', decisionId },
      });
      return [{ uuid: contactUuid, positions: own }, ...mergedOnes].filter((m) => m.positions.length > 0).map((m) => unlinked(m.uuid, m.positions));
    }
    case 'staff_person_deleted': {
      const { staffPersonUuid } = decision;
      const positions = positionsWhere(current.parties, (p) => same(p.staffPersonUuid, staffPersonUuid));
      if (positions.length === 0) return [];
      const data = { schemaVersion: 1 as const, interactionUuid, positions, contactUuid: null, staffPersonUuid, decisionId };
      return [{ type: 'PartiesUnlinked', data: { ...data, reason: 'staff_person_deleted' } }];
    }
    case 'contacts_merged': {
      const { fromUuid, intoUuid } = decision;
      const subject = same(current.contactUuid, fromUuid);
      const positions = positionsWhere(current.parties, (p) => same(p.contactUuid, fromUuid));
      if (!subject && positions.length === 0) return [];
      return [
        {
          type: 'ContactRepointed',
          data: { schemaVersion: 1, interactionUuid, fromContactUuid: fromUuid, intoContactUuid: intoUuid, subject, positions, decisionId },
        },
      ];
    }
  }
}
