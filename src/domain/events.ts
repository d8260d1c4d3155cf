import { z } from 'zod';
import { INTERACTION_TYPES } from './interaction';
import { codePointLength, copyJsonObject, isStorableDate, isStorableString } from './storable';

/**
 * The event schemas: the stream is the source of truth, so every event is parsed with these on the way
 * in and on the way out. A new shape gets a new schemaVersion and an upcaster in `parseEvent`; stored
 * events are never rewritten.
 */

const uuid = z.uuid();
/** Whole-second UTC timestamps as written by `isoSeconds`, e.g. "2026-08-22T10:00:00Z", years 0001–9999. */
const isoSecondsString = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
  .refine((s) => isStorableDate(new Date(s)), { error: 'is not a valid date' });
/** Text the stores hold unchanged (no U+0000, no unpaired surrogate): what the log can never refuse. */
const storableString = z.string().refine(isStorableString, { error: 'must not contain NUL or invalid characters' });
/** At most 255 code points, as validation counts them (an emoji is one character). */
const storableName = storableString.refine((s) => codePointLength(s) <= 255, { error: 'must be at most 255 characters' });
const jsonObject = z
  .record(z.string(), z.unknown())
  .refine((value) => copyJsonObject(value).ok, { error: 'must be a plain JSON object the store can hold' });

const snapshotSchema = z.discriminatedUnion('source', [
  z.strictObject({
    source: z.literal('crm_contact'),
    name: storableString,
    company: storableString.optional(),
    roleInCompany: storableString.optional(),
    department: storableString.optional(),
    capturedAt: isoSecondsString,
  }),
  z.strictObject({
    source: z.literal('staff'),
    name: storableString.optional(),
    jobTitle: storableString.optional(),
    employmentType: storableString.optional(),
    capturedAt: isoSecondsString,
  }),
  z.strictObject({ source: z.literal('free_text'), capturedAt: isoSecondsString }),
]);

const partySchema = z.strictObject({
  rawName: storableName.min(1),
  contactUuid: uuid.nullable(),
  staffPersonUuid: uuid.nullable(),
  position: z.number().int().nonnegative(),
  snapshot: snapshotSchema,
});

const attrsShape = {
  contactUuid: uuid,
  interactionType: z.enum(INTERACTION_TYPES),
  occurredAt: isoSecondsString,
  subject: storableName.nullable(),
  body: storableString.nullable(),
  ownerUserUuid: uuid.nullable(),
  metadata: jsonObject,
};

export const InteractionLoggedSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
  ...attrsShape,
  fileUuids: z.array(uuid),
});

export const InteractionUpdatedSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
  /** Only the attributes that changed, with their new values. */
  changes: z.strictObject(attrsShape).partial(),
});

export const PartiesRebuiltSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
  parties: z.array(partySchema),
});

export const InteractionDeletedSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
});

export type InteractionLoggedData = z.infer<typeof InteractionLoggedSchema>;
export type InteractionUpdatedData = z.infer<typeof InteractionUpdatedSchema>;
export type PartiesRebuiltData = z.infer<typeof PartiesRebuiltSchema>;
export type InteractionDeletedData = z.infer<typeof InteractionDeletedSchema>;

export const EVENT_SCHEMAS = {
  InteractionLogged: InteractionLoggedSchema,
  InteractionUpdated: InteractionUpdatedSchema,
  PartiesRebuilt: PartiesRebuiltSchema,
  InteractionDeleted: InteractionDeletedSchema,
} as const;

export type InteractionEventType = keyof typeof EVENT_SCHEMAS;
export const INTERACTION_EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as InteractionEventType[];

/** A domain event: what `decide` returns and `evolve` folds. */
export type InteractionEvent =
  | { type: 'InteractionLogged'; data: InteractionLoggedData }
  | { type: 'InteractionUpdated'; data: InteractionUpdatedData }
  | { type: 'PartiesRebuilt'; data: PartiesRebuiltData }
  | { type: 'InteractionDeleted'; data: InteractionDeletedData };

/** Thrown when a stored or outgoing event does not match its schema: the log must never hold one. */
export class InvalidEventError extends Error {
  constructor(type: string, detail: string) {
    super(`Invalid ${type} event: ${detail}`);
    this.name = 'InvalidEventError';
  }
}

export function isInteractionEventType(type: string): type is InteractionEventType {
  return Object.prototype.hasOwnProperty.call(EVENT_SCHEMAS, type);
}

/** Validates an event's data against the schema of its type (the single place to add upcasters). */
export function parseEvent(type: string, data: unknown): InteractionEvent {
  if (!isInteractionEventType(type)) throw new InvalidEventError(type, 'unknown event type');
  const result = EVENT_SCHEMAS[type].safeParse(data);
  if (!result.success) throw new InvalidEventError(type, z.prettifyError(result.error));
  return { type, data: result.data } as InteractionEvent;
}

export function streamNameOf(interactionUuid: string): string {
  return `interaction-${interactionUuid}`;
}

/** Whole-second UTC ISO-8601, the one timestamp format of events and snapshots. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function truncateToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
