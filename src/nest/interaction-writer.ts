import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { uuidv7 } from 'uuidv7';
import {
  decide,
  DecideContext,
  fold,
  InteractionCommand,
  InteractionState,
  RecordedInteractionEvent,
} from '../domain/decider';
import { InteractionConflictError } from '../domain/errors';
import { parseEvent, streamNameOf } from '../domain/events';
import { ContactRecord, involvedContactUuids, StaffRecord } from '../domain/interaction';
import { NormalisedParty } from '../domain/validation';
import { EventStore, RecordedEvent, WrongExpectedVersionError } from '../ports/event-store';
import { CommandOptions, PUBLISHED_EVENT_CLASSES } from './messages';
import { ASYNC_PROJECTION, AsyncProjection } from './read-your-writes';
import { Directories, DIRECTORIES, EVENT_STORE } from './tokens';

/** How often a command without `expectedVersion` re-reads and re-decides after losing a race. */
const CONFLICT_RETRIES = 3;

export function toDomainEvent(event: RecordedEvent): RecordedInteractionEvent {
  return {
    ...parseEvent(event.type, event.data),
    revision: event.revision,
    recordedAt: new Date(event.metadata.recordedAt),
  };
}

/**
 * The write side's loop around the pure decider: read the stream, look up what the command references,
 * decide, append with the read revision as the expectation, publish. Losing a race to a concurrent
 * writer re-runs the loop, unless the caller pinned a version.
 */
@Injectable()
export class InteractionWriter {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(DIRECTORIES) private readonly directories: Directories,
    private readonly eventBus: EventBus,
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
      contacts: new Map(contacts.map((c) => [c.uuid, c])),
      staff: staffDirectory ? new Map(staff.map((s) => [s.uuid, s])) : null,
    };
  }

  /** Decides and appends; returns the state after the command (the state before when nothing changed). */
  async execute(command: InteractionCommand, options: CommandOptions, now: Date): Promise<InteractionState> {
    const streamName = streamNameOf(command.interactionUuid);
    for (let attempt = 1; ; attempt++) {
      const before = command.kind === 'create' ? fold([]) : await this.loadState(command.interactionUuid);
      const ctx = await this.lookups(...referencedBy(command), now);
      const events = decide(command, before, ctx);
      if (events.length === 0) return before;

      const recordedAt = ctx.now.toISOString();
      const metadata = {
        actorUuid: options.actorUuid ?? null,
        correlationId: options.correlationId ?? uuidv7(),
        causationId: options.causationId ?? null,
        recordedAt,
      };
      try {
        const result = await this.store.appendToStream(
          streamName,
          events.map((event) => ({ id: uuidv7(), type: event.type, data: event.data, metadata })),
          before.version === -1 ? 'no_stream' : before.version,
        );
        const after = fold(result.events.map(toDomainEvent), before);
        try {
          await this.projection?.afterAppend(result);
        } finally {
          // Published once the read tables show the events; also when that wait timed out (they happened).
          this.publish(result.events, involvedContactUuids(before.interaction, after.interaction));
        }
        return after;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        const pinned = command.kind === 'update' && command.expectedVersion !== undefined;
        if (pinned || attempt >= CONFLICT_RETRIES) {
          throw new InteractionConflictError(command.interactionUuid, before.version, error.actual);
        }
      }
    }
  }

  private publish(events: RecordedEvent[], involved: string[]): void {
    this.eventBus.publishAll(
      events.map((event) => {
        const domain = parseEvent(event.type, event.data);
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

/** The contact and staff uuids a command references: what the decider needs looked up. */
function referencedBy(command: InteractionCommand): [string[], string[]] {
  if (command.kind === 'delete') return [[], []];
  const parties: readonly NormalisedParty[] = command.parties ?? [];
  const contacts = parties.flatMap((p) => (p.contactUuid ? [p.contactUuid] : []));
  if (command.attrs.contactUuid) contacts.unshift(command.attrs.contactUuid);
  return [contacts, parties.flatMap((p) => (p.staffPersonUuid ? [p.staffPersonUuid] : []))];
}
