import { Command, IEvent, Query } from '@nestjs/cqrs';
import { ContactRecord, Interaction, InteractionAttrs, InteractionType, PartyInput } from '../domain/interaction';
import { FieldErrors } from '../domain/errors';
import {
  InteractionDeletedData,
  InteractionLoggedData,
  InteractionUpdatedData,
  PartiesRebuiltData,
  PartiesUnlinkedData,
  ContactRepointedData,
  PartyLinkedData,
} from '../domain/events';
import { EventMetadata, Position, RecordedEvent } from '../ports/event-store';

/** The commands, queries and published events other Nest modules dispatch or subscribe to. */

export interface CommandOptions {
  actorUuid?: string | null;
  /** Ties the events to the request or message that caused them; a new id when absent. */
  correlationId?: string;
  causationId?: string | null;
  /**
   * 1–200 characters: a repeat with the same key and the same input returns the first result and
   * appends nothing; the same key with another input is an InteractionValidationError.
   */
  idempotencyKey?: string;
}

export class CreateInteractionCommand extends Command<Interaction> {
  constructor(
    readonly attrs: InteractionAttrs,
    readonly parties: PartyInput[] = [],
    readonly fileUuids: string[] = [],
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}

export class UpdateInteractionCommand extends Command<Interaction> {
  constructor(
    readonly interactionUuid: string,
    readonly attrs: InteractionAttrs,
    /** null leaves the parties untouched; a list (also []) replaces them. */
    readonly parties: PartyInput[] | null = null,
    readonly options: CommandOptions & { expectedVersion?: number } = {},
  ) {
    super();
  }
}

export class DeleteInteractionCommand extends Command<Interaction> {
  constructor(
    readonly interactionUuid: string,
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}

export class GetInteractionQuery extends Query<Interaction | null> {
  constructor(readonly interactionUuid: string | null | undefined) {
    super();
  }
}

/** What a feed or a count is narrowed to (docs/contract.md, "Feeds, filters and counts"); absent is "any". */
export interface FeedFilters {
  /** Only these types; `[]` matches nothing. */
  types?: InteractionType[];
  /** Inclusive. */
  occurredFrom?: Date | string;
  /** Exclusive. */
  occurredTo?: Date | string;
  ownerUserUuid?: string;
  /** Words (and word prefixes) of subject and body, ignoring case and accents; every word must match. */
  search?: string;
}

/** A page of a newest-first feed, with its filters. */
export interface FeedPage extends FeedFilters {
  limit?: number;
  /** The `nextCursor` of the previous page (see `feedCursorOf`). */
  after?: string | null;
}

/** The page of `listInvolving` before filters existed: a FeedPage now. */
export type InvolvingPage = FeedPage;

export class ListInvolvingQuery extends Query<Interaction[]> {
  constructor(
    readonly contactUuid: string | null | undefined,
    readonly page: FeedPage = {},
  ) {
    super();
  }
}

export type InteractionWithContact = Interaction & { contact: ContactRecord | null };

export class ListForContactsQuery extends Query<InteractionWithContact[]> {
  constructor(
    readonly contactUuids: string[],
    readonly page: FeedPage = {},
  ) {
    super();
  }
}

/** The whole CRM's newest interactions (6 unless `limit` says otherwise), each with its subject contact. */
export class ListRecentQuery extends Query<InteractionWithContact[]> {
  constructor(readonly page: FeedPage = {}) {
    super();
  }
}

/** How many interactions, in all and of each type (every type present, 0 where there is none). */
export interface InteractionCounts {
  total: number;
  byType: Record<InteractionType, number>;
}

export class CountInvolvingQuery extends Query<InteractionCounts> {
  constructor(
    readonly contactUuid: string | null | undefined,
    readonly filters: FeedFilters = {},
  ) {
    super();
  }
}

export class CountInteractionsQuery extends Query<InteractionCounts> {
  constructor(readonly filters: FeedFilters = {}) {
    super();
  }
}

export class InteractionUuidsForContactQuery extends Query<string[]> {
  constructor(readonly contactUuid: string | null | undefined) {
    super();
  }
}

export interface ChangeResult {
  valid: boolean;
  changes: Partial<InteractionAttrs>;
  errors: FieldErrors;
}

export class ChangeInteractionQuery extends Query<ChangeResult> {
  constructor(
    readonly interaction: Interaction | null,
    readonly attrs: InteractionAttrs,
  ) {
    super();
  }
}

export class InteractionHistoryQuery extends Query<RecordedEvent[]> {
  constructor(readonly interactionUuid: string | null | undefined) {
    super();
  }
}

export class GetInteractionAsOfQuery extends Query<Interaction | null> {
  constructor(
    readonly interactionUuid: string | null | undefined,
    readonly at: Date,
  ) {
    super();
  }
}

// --- Late linking (docs/contract.md "Contacts' lifecycle")

/** Links the party at `position` to a contact or a staff person, with a snapshot taken now. */
export class LinkPartyCommand extends Command<Interaction> {
  constructor(
    readonly interactionUuid: string,
    readonly position: number,
    readonly ref: { contactUuid: string } | { staffPersonUuid: string },
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}

/** A free-text party matching a `findUnresolvedParties` filter. */
export interface UnresolvedParty {
  interactionUuid: string;
  position: number;
  rawName: string;
  occurredAt: Date;
}

export class FindUnresolvedPartiesQuery extends Query<UnresolvedParty[]> {
  constructor(
    readonly filter: { name?: string | null; email?: string | null },
    readonly options: { limit?: number } = {},
  ) {
    super();
  }
}
// --- end of late linking

// --- Contacts' lifecycle: deletion and merge (src/lifecycle)

/** What a lifecycle command returns: the number of interaction streams it appended to. */
export interface LifecycleResult {
  interactions: number;
}

/** Deletes the interactions the contact is the subject of; unlinks it from every other party list. */
export class ContactDeletedCommand extends Command<LifecycleResult> {
  constructor(
    readonly contactUuid: string,
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}

/** Unlinks the staff person from every party list (snapshots stay). */
export class StaffPersonDeletedCommand extends Command<LifecycleResult> {
  constructor(
    readonly staffPersonUuid: string,
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}

/** Re-points subjects and party links from `fromUuid` to `intoUuid` (snapshots stay). */
export class ContactsMergedCommand extends Command<LifecycleResult> {
  constructor(
    readonly fromUuid: string,
    readonly intoUuid: string,
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}

/**
 * Erasure (GDPR art. 17): what ContactDeletedCommand does, and every name, email and raw name the module
 * held for the contact made unreadable, in the read tables and in the log (its keys are destroyed).
 */
export class ForgetContactCommand extends Command<LifecycleResult> {
  constructor(
    readonly contactUuid: string,
    readonly options: CommandOptions = {},
  ) {
    super();
  }
}
// --- end of contacts' lifecycle

/** What every published event carries besides its data. */
abstract class PublishedInteractionEvent<TData> implements IEvent {
  constructor(
    readonly interactionUuid: string,
    readonly data: TData,
    readonly metadata: EventMetadata,
    readonly revision: number,
    readonly position: Position,
    /** The subject and every party contact before and after the change: the contact pages to refresh. */
    readonly involvedContactUuids: string[],
  ) {}
}

export class InteractionLogged extends PublishedInteractionEvent<InteractionLoggedData> {}
export class InteractionUpdated extends PublishedInteractionEvent<InteractionUpdatedData> {}
export class PartiesRebuilt extends PublishedInteractionEvent<PartiesRebuiltData> {}
export class InteractionDeleted extends PublishedInteractionEvent<InteractionDeletedData> {}

// --- Late linking
export class PartyLinked extends PublishedInteractionEvent<PartyLinkedData> {}
// --- end of late linking

// --- Contacts' lifecycle
export class PartiesUnlinked extends PublishedInteractionEvent<PartiesUnlinkedData> {}
export class ContactRepointed extends PublishedInteractionEvent<ContactRepointedData> {}
// --- end of contacts' lifecycle

export const PUBLISHED_EVENT_CLASSES = {
  InteractionLogged,
  InteractionUpdated,
  PartiesRebuilt,
  InteractionDeleted,
  PartyLinked,
  PartiesUnlinked,
  ContactRepointed,
};
