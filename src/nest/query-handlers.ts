import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { isDeepStrictEqual } from 'node:util';
import { Database } from '../ports/database';
import { ErrorCollector, InteractionValidationError } from '../domain/errors';
import { parseEvent, streamNameOf, truncateToSecond } from '../domain/events';
import { Interaction, InteractionAttrs } from '../domain/interaction';
import {
  ATTR_NAMES,
  givenAttrNames,
  MESSAGES,
  normaliseUuid,
  unwrapAll,
  validateAttrs,
  validateLimit,
} from '../domain/validation';
import { EventStore, RecordedEvent } from '../ports/event-store';
import {
  findForContacts,
  findInteraction,
  findInvolving,
  findSubjectUuids,
} from '../../projections/interactions.queries';
import { parseFeedCursor } from './feed-cursor';
import { InteractionWriter, toDomainEvent } from './interaction-writer';
import { fold } from '../domain/decider';
import {
  ChangeInteractionQuery,
  ChangeResult,
  GetInteractionAsOfQuery,
  GetInteractionQuery,
  InteractionHistoryQuery,
  InteractionUuidsForContactQuery,
  InteractionWithContact,
  ListForContactsQuery,
  ListInvolvingQuery,
} from './messages';
import { Directories, DATABASE, DIRECTORIES, EVENT_STORE } from './tokens';

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
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async execute({ interactionUuid }: GetInteractionQuery): Promise<Interaction | null> {
    const uuid = normaliseUuid(interactionUuid);
    return uuid ? findInteraction(this.db, uuid) : null;
  }
}

@QueryHandler(ListInvolvingQuery)
export class ListInvolvingHandler implements IQueryHandler<ListInvolvingQuery> {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async execute({ contactUuid, page }: ListInvolvingQuery): Promise<Interaction[]> {
    const uuid = normaliseUuid(contactUuid);
    if (!uuid) return [];
    const { limit: givenLimit, after: givenAfter } = readOptions(page, 'page', ['limit', 'after']);
    const [limit] = unwrapAll<[number | null]>(validateLimit(givenLimit));
    let after = null;
    if (givenAfter !== undefined && givenAfter !== null) {
      after = parseFeedCursor(givenAfter);
      if (!after) throw new InteractionValidationError({ after: ['is not a valid cursor'] });
    }
    return findInvolving(this.db, uuid, { limit, after });
  }
}

@QueryHandler(ListForContactsQuery)
export class ListForContactsHandler implements IQueryHandler<ListForContactsQuery> {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(DIRECTORIES) private readonly directories: Directories,
  ) {}

  async execute({ contactUuids, options }: ListForContactsQuery): Promise<InteractionWithContact[]> {
    const errors = new ErrorCollector();
    const uuids = Array.isArray(contactUuids) ? contactUuids.map(normaliseUuid) : null;
    if (!uuids) errors.add('contactUuids', MESSAGES.list);
    else if (uuids.includes(null)) errors.add('contactUuids', MESSAGES.uuidList);
    const limit = validateLimit(readOptions(options, 'options', ['limit']).limit);
    if (!limit.ok) errors.add('limit', limit.errors.limit?.[0] ?? 'is invalid');
    errors.throwIfAny();
    if (!uuids || uuids.length === 0 || !limit.ok) return [];

    const interactions = await findForContacts(this.db, [...new Set(uuids as string[])], limit.value);
    const subjects = [...new Set(interactions.map((i) => i.contactUuid))];
    const contacts = subjects.length > 0 ? await this.directories.contacts.findContacts(subjects) : [];
    const byUuid = new Map(contacts.map((c) => [c.uuid, c]));
    return interactions.map((i) => ({ ...i, contact: byUuid.get(i.contactUuid) ?? null }));
  }
}

@QueryHandler(InteractionUuidsForContactQuery)
export class InteractionUuidsForContactHandler implements IQueryHandler<InteractionUuidsForContactQuery> {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

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
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
      throw new InteractionValidationError({ at: [MESSAGES.date] });
    }
    const uuid = normaliseUuid(interactionUuid);
    if (!uuid) return null;
    const events = (await this.store.readStream(streamNameOf(uuid))).map(toDomainEvent);
    const state = fold(events.filter((event) => truncateToSecond(event.recordedAt).getTime() <= at.getTime()));
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
    for (const name of ATTR_NAMES) {
      const value = result.value[name];
      if (!given.has(name) || value === undefined) continue;
      const current = interaction?.[name];
      const same = value instanceof Date && current instanceof Date ? value.getTime() === current.getTime() : isDeepStrictEqual(value, current);
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
  InteractionUuidsForContactHandler,
  InteractionHistoryHandler,
  GetInteractionAsOfHandler,
  ChangeInteractionHandler,
];
