import { Injectable } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { Interaction, InteractionAttrs, PartyInput } from '../domain/interaction';
import { RecordedEvent } from '../ports/event-store';
import {
  ChangeInteractionQuery,
  ChangeResult,
  CommandOptions,
  CreateInteractionCommand,
  DeleteInteractionCommand,
  GetInteractionAsOfQuery,
  GetInteractionQuery,
  InteractionHistoryQuery,
  InteractionUuidsForContactQuery,
  InteractionWithContact,
  FeedPage,
  FeedFilters,
  InteractionCounts,
  CountInvolvingQuery,
  CountInteractionsQuery,
  ListForContactsQuery,
  ListInvolvingQuery,
  ListRecentQuery,
  UpdateInteractionCommand,
  LinkPartyCommand,
  FindUnresolvedPartiesQuery,
  UnresolvedParty,
  ContactDeletedCommand,
  ForgetContactCommand,
  StaffPersonDeletedCommand,
  ContactsMergedCommand,
  LifecycleResult,
} from './messages';

type InteractionRef = Interaction | string;
/** The uuid an interaction or its uuid names; one that cannot be read (a Proxy that throws) names none. */
const uuidOf = (ref: InteractionRef): string => {
  if (typeof ref === 'string') return ref;
  try {
    return ref?.uuid;
  } catch {
    return '';
  }
};

/** The module's facade (docs/contract.md "InteractionsService"): each method dispatches one command or query. */
@Injectable()
export class InteractionsService {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
  ) {}

  createInteraction(
    attrs: InteractionAttrs,
    parties: PartyInput[] = [],
    fileUuids: string[] = [],
    opts: CommandOptions = {},
  ): Promise<Interaction> {
    return this.commandBus.execute(new CreateInteractionCommand(attrs, parties, fileUuids, opts));
  }

  updateInteraction(
    interactionOrUuid: InteractionRef,
    attrs: InteractionAttrs,
    parties: PartyInput[] | null = null,
    opts: CommandOptions & { expectedVersion?: number } = {},
  ): Promise<Interaction> {
    return this.commandBus.execute(new UpdateInteractionCommand(uuidOf(interactionOrUuid), attrs, parties, opts));
  }

  deleteInteraction(interactionOrUuid: InteractionRef, opts: CommandOptions = {}): Promise<Interaction> {
    return this.commandBus.execute(new DeleteInteractionCommand(uuidOf(interactionOrUuid), opts));
  }

  getInteraction(uuid: string | null | undefined): Promise<Interaction | null> {
    return this.queryBus.execute(new GetInteractionQuery(uuid));
  }

  listInvolving(contactUuid: string | null | undefined, page: FeedPage = {}): Promise<Interaction[]> {
    return this.queryBus.execute(new ListInvolvingQuery(contactUuid, page));
  }

  listForContacts(contactUuids: string[], page: FeedPage = {}): Promise<InteractionWithContact[]> {
    return this.queryBus.execute(new ListForContactsQuery(contactUuids, page));
  }

  /** The whole CRM's newest interactions, 6 unless `page.limit` says otherwise. */
  listRecent(page: FeedPage = {}): Promise<InteractionWithContact[]> {
    return this.queryBus.execute(new ListRecentQuery(page));
  }

  countInvolving(contactUuid: string | null | undefined, filters: FeedFilters = {}): Promise<InteractionCounts> {
    return this.queryBus.execute(new CountInvolvingQuery(contactUuid, filters));
  }

  countInteractions(filters: FeedFilters = {}): Promise<InteractionCounts> {
    return this.queryBus.execute(new CountInteractionsQuery(filters));
  }

  interactionUuidsForContact(contactUuid: string | null | undefined): Promise<string[]> {
    return this.queryBus.execute(new InteractionUuidsForContactQuery(contactUuid));
  }

  changeInteraction(interaction: Interaction | null, attrs: InteractionAttrs): Promise<ChangeResult> {
    return this.queryBus.execute(new ChangeInteractionQuery(interaction, attrs));
  }

  history(uuid: string | null | undefined): Promise<RecordedEvent[]> {
    return this.queryBus.execute(new InteractionHistoryQuery(uuid));
  }

  /** The interaction as it was at `at`, folded from its stream; null before it existed or once deleted. */
  getInteractionAsOf(uuid: string | null | undefined, at: Date): Promise<Interaction | null> {
    return this.queryBus.execute(new GetInteractionAsOfQuery(uuid, at));
  }

  // --- Late linking (docs/contract.md "Contacts' lifecycle")

  /**
   * Links the party at `position` (typically a free-text one) to a contact or a staff person, with a
   * snapshot taken now. Already linked to that: nothing is appended. Linked to another: a validation error.
   */
  linkParty(
    interactionUuid: string,
    position: number,
    ref: { contactUuid: string } | { staffPersonUuid: string },
    opts: CommandOptions = {},
  ): Promise<Interaction> {
    return this.commandBus.execute(new LinkPartyCommand(interactionUuid, position, ref, opts));
  }

  /** Free-text parties whose rawName matches the name (ignoring case, accents, spaces) or holds the email. */
  findUnresolvedParties(
    filter: { name?: string | null; email?: string | null },
    opts: { limit?: number } = {},
  ): Promise<UnresolvedParty[]> {
    return this.queryBus.execute(new FindUnresolvedPartiesQuery(filter, opts));
  }
  // --- end of late linking

  // --- Contacts' lifecycle: durable once they return; a repeat affects nothing more (src/lifecycle)

  /** Deletes the interactions whose subject is the contact; unlinks it from every other party (snapshots stay). */
  contactDeleted(contactUuid: string, opts: CommandOptions = {}): Promise<LifecycleResult> {
    return this.commandBus.execute(new ContactDeletedCommand(contactUuid, opts));
  }

  /** Unlinks the staff person from every party (rawName and snapshot stay). */
  staffPersonDeleted(staffPersonUuid: string, opts: CommandOptions = {}): Promise<LifecycleResult> {
    return this.commandBus.execute(new StaffPersonDeletedCommand(staffPersonUuid, opts));
  }

  /** Re-points subjects and party links from `fromUuid` to `intoUuid` (snapshots stay). */
  contactsMerged(fromUuid: string, intoUuid: string, opts: CommandOptions = {}): Promise<LifecycleResult> {
    return this.commandBus.execute(new ContactsMergedCommand(fromUuid, intoUuid, opts));
  }

  /**
   * Erasure: what contactDeleted does, and afterwards its parties read "[erased]" everywhere (read
   * tables, history, as-of, rebuild) and the interactions it was the subject of are unreadable.
   */
  forgetContact(contactUuid: string, opts: CommandOptions = {}): Promise<LifecycleResult> {
    return this.commandBus.execute(new ForgetContactCommand(contactUuid, opts));
  }
  // --- end of contacts' lifecycle
}
