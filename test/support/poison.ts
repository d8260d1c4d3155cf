import { randomUUID } from 'node:crypto';
import { EventUpcaster } from '../../src';
import { EventMetadata } from '../../src/ports/event-store';

/**
 * Raw event bodies for the poison-event suites: written straight into a log (the `events` table, an
 * EventStoreDB stream), as another deploy, a manual fix or another module would.
 */

export const eventMetadata = (overrides: Partial<EventMetadata> = {}): EventMetadata => ({
  actorUuid: null,
  correlationId: randomUUID(),
  causationId: null,
  recordedAt: '2026-04-01T10:00:00.000Z',
  ...overrides,
});

export const loggedData = (interactionUuid: string, subject: string, contactUuid = '0190d8a2-5a7e-7cc1-8f3e-aaaaaaaaaaaa') => ({
  schemaVersion: 1,
  interactionUuid,
  contactUuid,
  interactionType: 'call',
  occurredAt: '2026-04-01T09:00:00Z',
  subject,
  body: null,
  ownerUserUuid: null,
  metadata: {},
  fileUuids: [],
});

/** A free-text party of a raw PartiesRebuilt; `links` make it a linked one (both: one the schema refuses). */
export const partyData = (position: number, links: { contactUuid?: string; staffPersonUuid?: string } = {}) => ({
  rawName: `Party ${position}`,
  contactUuid: links.contactUuid ?? null,
  staffPersonUuid: links.staffPersonUuid ?? null,
  position,
  snapshot: { source: 'free_text', capturedAt: '2026-04-01T10:00:00Z' },
});

export const partiesRebuiltData = (interactionUuid: string, parties: unknown[]) => ({ schemaVersion: 1, interactionUuid, parties });

export const updatedData = (interactionUuid: string, changes: Record<string, unknown>, schemaVersion = 1) => ({
  schemaVersion,
  interactionUuid,
  changes,
});

/** The fix of the retry tests: InteractionUpdated v0 (a deploy that never shipped its upcaster) named the type `kind`. */
export const updatedV0: EventUpcaster = {
  eventType: 'InteractionUpdated',
  fromVersion: 0,
  upcast: ({ changes, ...rest }) => {
    const { kind, ...others } = changes as Record<string, unknown>;
    return { ...rest, schemaVersion: 1, changes: { ...others, ...(kind !== undefined && { interactionType: kind }) } };
  },
};
