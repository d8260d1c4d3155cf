import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { isDeepStrictEqual } from 'node:util';
import { Database } from '../ports/database';
import { ErrorCollector, InteractionValidationError } from '../domain/errors';
import { parseEvent, streamNameOf, truncateToSecond } from '../domain/events';
import { Interaction, InteractionAttrs, INTERACTION_TYPES, InteractionType } from '../domain/interaction';
import {
  ATTR_NAMES,
  givenAttrNames,
  MESSAGES,
  parseDate,
  normaliseUuid,
  unwrapAll,
  validateAttrs,
  validateFeedFilter,
  validateLimit,
  FEED_FILTER_NAMES,
  NormalisedFeedFilter,
} from '../domain/validation';
import { EventStore, RecordedEvent } from '../ports/event-store';
import {
  countInteractions,
  countInvolving,
  CountsByType,
  FeedPageQuery,
  findForContacts,
  findInteraction,
  findInvolving,
  findRecent,
  findSubjectUuids,
} from '../../projections/interactions.queries';
import { parseFeedCursor } from './feed-cursor';
import { InteractionWriter, toDomainEvent } from './interaction-writer';
import { fold } from '../domain/decider';
import {
  ChangeInteractionQuery,
  ChangeResult,
  CountInteractionsQuery,
  CountInvolvingQuery,
  GetInteractionAsOfQuery,
  GetInteractionQuery,
  InteractionHistoryQuery,
  InteractionUuidsForContactQuery,
  InteractionCounts,
  InteractionWithContact,
  ListForContactsQuery,
  ListInvolvingQuery,
  ListRecentQuery,
} from './messages';
import { Directories, DIRECTORIES, EVENT_STORE, READ_DATABASE } from './tokens';

/**
 * The named fields of a query's options object; absent (undefined, null) is {}. Anything else, or a
 * getter that throws, is an InteractionValidationError on `field`, never a raw error.
 */
function readOptions<K extends string>(options: unknown, field: string, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new InteractionValidationError({ [field]: [MESSAGES.object] });
  try {
    return Object.fromEntries(keys.map((key) => [key, (options as Record<string, unknown>)[key]])) as Partial<Record<K, unknown>>;
  } catch {
    throw new InteractionValidationError({ [field]: [MESSAGES.unreadable] });
  }
}

@QueryHandler(GetInteractionQuery)
export class GetInteractionHandler implements IQueryHandler<GetInteractionQuery> {
  constructor(@Inject(READ_DATABASE) private readonly db: Database) {}

  async execute({ interactionUuid }: GetInteractionQuery): Promise<Interaction | null> {
    const uuid = normaliseUuid(interactionUuid);
    return uuid ? findInteraction(this.db, uuid) : null;
  }
}

/** The newest-first page a FeedPage asks for, and its filters; every bad field an error of its own. */
function readFeedPage(page: unknown, field: string, defaultLimit: number | null): { page: FeedPageQuery; filter: NormalisedFeedFilter } {
  const given = readOptions(page, field, ['limit', 'after', ...FEED_FILTER_NAMES]);
  const errors = new ErrorCollector();
  const limit = validateLimit(given.limit);
  if (!limit.ok) errors.add('limit', limit.errors.limit?.[0] ?? 'is invalid');
  let after = null;
  if (given.after !== undefined && given.after !== null) {
    after = parseFeedCursor(given.after);
    if (!after) errors.add('after', 'is not a valid cursor');
  }
  const filter = validateFeedFilter(given);
  if (!filter.ok) for (const [key, messages] of Object.entries(filter.errors)) messages.forEach((m) => errors.add(key, m));
  errors.throwIfAny();
  return { page: { limit: (limit.ok && limit.value) || defaultLimit, after }, filter: (filter as { value: NormalisedFeedFilter }).value };
}

function readFeedFilters(filters: unknown): NormalisedFeedFilter {
  return unwrapAll<[NormalisedFeedFilter]>(validateFeedFilter(readOptions(filters, 'filters', FEED_FILTER_NAMES)))[0];
}

/** Subject contacts as the directory has them now, next to each interaction. */
async function withContacts(directories: Directories, interactions: Interaction[]): Promise<InteractionWithContact[]> {
  const subjects = [...new Set(interactions.map((i) => i.contactUuid))];
  const contacts = subjects.length > 0 ? await directories.contacts.findContacts(subjects) : [];
  // The host's directory may answer in any letter case; the module's uuids are lower case.
  const byUuid = new Map(contacts.map((c) => [c.uuid.toLowerCase(), c]));
  return interactions.map((i) => ({ ...i, contact: byUuid.get(i.contactUuid) ?? null }));
}

@QueryHandler(ListInvolvingQuery)
export class ListInvolvingHandler implements IQueryHandler<ListInvolvingQuery> {
  constructor(@Inject(READ_DATABASE) private readonly db: Database) {}

  async execute({ contactUuid, page }: ListInvolvingQuery): Promise<Interaction[]> {
    const read = readFeedPage(page, 'page', null);
    const uuid = normaliseUuid(contactUuid);
    return uuid ? findInvolving(this.db, uuid, read.page, read.filter) : [];
  }
}

@QueryHandler(ListForContactsQuery)
export class ListForContactsHandler implements IQueryHandler<ListForContactsQuery> {
  constructor(
    @Inject(READ_DATABASE) private readonly db: Database,
    @Inject(DIRECTORIES) private readonly directories: Directories,
  ) {}

  async execute({ contactUuids, page }: ListForContactsQuery): Promise<InteractionWithContact[]> {
    const errors = new ErrorCollector();
    const uuids = Array.isArray(contactUuids) ? contactUuids.map(normaliseUuid) : null;
    if (!uuids) errors.add('contactUuids', MESSAGES.list);
    else if (uuids.includes(null)) errors.add('contactUuids', MESSAGES.uuidList);
    let read: ReturnType<typeof readFeedPage> | null = null;
    try {
      read = readFeedPage(page, 'options', null);
    } catch (error) {
      if (!(error instanceof InteractionValidationError)) throw error;
      for (const [key, messages] of Object.entries(error.errors)) messages.forEach((m) => errors.add(key, m));
    }
    errors.throwIfAny();
    if (!uuids || uuids.length === 0 || !read) return [];
    return withContacts(this.directories, await findForContacts(this.db, [...new Set(uuids as string[])], read.page, read.filter));
  }
}

export const DEFAULT_RECENT_LIMIT = 6;

@QueryHandler(ListRecentQuery)
export class ListRecentHandler implements IQueryHandler<ListRecentQuery> {
  constructor(
    @Inject(READ_DATABASE) private readonly db: Database,
    @Inject(DIRECTORIES) private readonly directories: Directories,
  ) {}

  async execute({ page }: ListRecentQuery): Promise<InteractionWithContact[]> {
    const read = readFeedPage(page, 'page', DEFAULT_RECENT_LIMIT);
    return withContacts(this.directories, await findRecent(this.db, read.page, read.filter));
  }
}

/** Counts as the API gives them: every type present, and the total. */
function toCounts(byType: CountsByType): InteractionCounts {
  const all = Object.fromEntries(INTERACTION_TYPES.map((type) => [type, byType[type] ?? 0])) as Record<InteractionType, number>;
  return { total: Object.values(all).reduce((sum, n) => sum + n, 0), byType: all };
}

@QueryHandler(CountInvolvingQuery)
export class CountInvolvingHandler implements IQueryHandler<CountInvolvingQuery> {
  constructor(@Inject(READ_DATABASE) private readonly db: Database) {}

  async execute({ contactUuid, filters }: CountInvolvingQuery): Promise<InteractionCounts> {
    const filter = readFeedFilters(filters);
    const uuid = normaliseUuid(contactUuid);
    return toCounts(uuid ? await countInvolving(this.db, uuid, filter) : {});
  }
}

@QueryHandler(CountInteractionsQuery)
export class CountInteractionsHandler implements IQueryHandler<CountInteractionsQuery> {
  constructor(@Inject(READ_DATABASE) private readonly db: Database) {}

  async execute({ filters }: CountInteractionsQuery): Promise<InteractionCounts> {
    return toCounts(await countInteractions(this.db, readFeedFilters(filters)));
  }
}

@QueryHandler(InteractionUuidsForContactQuery)
export class InteractionUuidsForContactHandler implements IQueryHandler<InteractionUuidsForContactQuery> {
  constructor(@Inject(READ_DATABASE) private readonly db: Database) {}

  async execute({ contactUuid }: InteractionUuidsForContactQuery): Promise<string[]> {
    const uuid = normaliseUuid(contactUuid);
    return uuid ? findSubjectUuids(this.db, uuid) : [];
  }
}

@QueryHandler(InteractionHistoryQuery)
export class InteractionHistoryHandler implements IQueryHandler<InteractionHistoryQuery> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ interactionUuid }: InteractionHistoryQuery): Promise<RecordedEvent[]> {
    const uuid = normaliseUuid(interactionUuid);
    return uuid ? (await this.store.readStream(streamNameOf(uuid))).map(upcastRecorded) : [];
  }
}

/**
 * An event with its data upcast to the current schemaVersion; one the module cannot read is kept as
 * stored, so an audit still sees what the stream holds.
 */
function upcastRecorded(event: RecordedEvent): RecordedEvent {
  try {
    return { ...event, data: parseEvent(event.type, event.data).data };
  } catch {
    return event;
  }
}

/**
 * The interaction as it was at a point in time, folded from its stream with the same `evolve` as the
 * write side: null before it was logged and after it was deleted. Events count at the whole second
 * their interaction shows (insertedAt/updatedAt), so "as of its updatedAt" includes that update.
 */
@QueryHandler(GetInteractionAsOfQuery)
export class GetInteractionAsOfHandler implements IQueryHandler<GetInteractionAsOfQuery> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ interactionUuid, at }: GetInteractionAsOfQuery): Promise<Interaction | null> {
    // A Date in the years 0001–9999, as everywhere (the HTTP `at` too).
    if (!(at instanceof Date) || parseDate(at) === null) {
      throw new InteractionValidationError({ at: [MESSAGES.date] });
    }
    const uuid = normaliseUuid(interactionUuid);
    if (!uuid) return null;
    const events = (await this.store.readStream(streamNameOf(uuid))).map(toDomainEvent);
    // The events up to the first recorded after `at`: a run from the start, as the stream had it then (an
    // older stream may hold an event recorded before the one it follows: see appendDecided).
    const after = events.findIndex((event) => truncateToSecond(event.recordedAt).getTime() > at.getTime());
    const state = fold(after === -1 ? events : events.slice(0, after));
    return state.deleted ? null : state.interaction;
  }
}

/**
 * Validates attributes as create (no interaction) or update would, writing nothing. `changes` holds
 * the normalised value of every given attribute that differs from the interaction.
 */
@QueryHandler(ChangeInteractionQuery)
export class ChangeInteractionHandler implements IQueryHandler<ChangeInteractionQuery> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute({ interaction, attrs }: ChangeInteractionQuery): Promise<ChangeResult> {
    const now = new Date();
    const result = validateAttrs(attrs, interaction ? 'update' : 'create', now);
    if (!result.ok) return { valid: false, changes: {}, errors: result.errors };

    const given = givenAttrNames(attrs);
    const changes: Partial<InteractionAttrs> = {};
    let current: Partial<InteractionAttrs>;
    try {
      current = Object.fromEntries(ATTR_NAMES.map((name) => [name, interaction?.[name]]));
    } catch {
      return { valid: false, changes: {}, errors: { interaction: [MESSAGES.unreadable] } }; // a getter or Proxy trap threw
    }
    for (const name of ATTR_NAMES) {
      const value = result.value[name];
      if (!given.has(name) || value === undefined) continue;
      const currentValue = current[name];
      const same =
        value instanceof Date && currentValue instanceof Date ? value.getTime() === currentValue.getTime() : isDeepStrictEqual(value, currentValue);
      if (!same) Object.assign(changes, { [name]: value });
    }
    if (changes.contactUuid) {
      const ctx = await this.writer.lookups([changes.contactUuid], [], now);
      if (!ctx.contacts.has(changes.contactUuid)) {
        return { valid: false, changes, errors: { contactUuid: [MESSAGES.doesNotExist] } };
      }
    }
    return { valid: true, changes, errors: {} };
  }
}

export const QUERY_HANDLERS = [
  GetInteractionHandler,
  ListInvolvingHandler,
  ListForContactsHandler,
  ListRecentHandler,
  CountInvolvingHandler,
  CountInteractionsHandler,
  InteractionUuidsForContactHandler,
  InteractionHistoryHandler,
  GetInteractionAsOfHandler,
  ChangeInteractionHandler,
];
