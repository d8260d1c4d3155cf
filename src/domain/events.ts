import { z } from 'zod';
import { INTERACTION_TYPES } from './interaction';
import { codePointLength, isStorableDate, isStorableJson, isStorableString } from './storable';
import { errorText } from './errors';

/**
 * The event schemas: the stream is the source of truth, so every event is parsed with these on the way
 * in and on the way out. A new shape gets a new schemaVersion and an upcaster in `parseEvent`; stored
 * events are never rewritten.
 */

/** Read in lower case, as the module writes them: a stream written before uuids were normalised may hold upper-case ones. */
const uuid = z.uuid().overwrite((value) => value.toLowerCase());
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
  .refine(isStorableJson, { error: 'must be a plain JSON object the store can hold' });

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
  /** What a party of a forgotten contact reads as (forgetContact): nothing of the person is left. */
  z.strictObject({ source: z.literal('erased'), capturedAt: isoSecondsString }),
]);

/** A party resolves to a contact or a staff person, never both. */
const partySchema = z
  .strictObject({
    rawName: storableName.min(1),
    contactUuid: uuid.nullable(),
    staffPersonUuid: uuid.nullable(),
    position: z.number().int().nonnegative(),
    snapshot: snapshotSchema,
  })
  .refine((p) => p.contactUuid === null || p.staffPersonUuid === null, {
    error: 'must not link both contactUuid and staffPersonUuid',
    path: ['staffPersonUuid'],
  });

/** Each party at a position of its own: the read tables key a party by it, and linking finds it by it. */
const partiesSchema = z
  .array(partySchema)
  .refine((parties) => new Set(parties.map((p) => p.position)).size === parties.length, { error: 'positions must be unique' });

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
  parties: partiesSchema,
});

export const InteractionDeletedSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
  /** Absent in events written before the contacts' lifecycle (and on a plain delete that had none). */
  reason: z.enum(['requested', 'contact_deleted', 'contact_forgotten']).optional(),
  /** The lifecycle decision that deleted it (see src/lifecycle). */
  decisionId: uuid.optional(),
});

// --- Contacts' lifecycle (src/lifecycle): a party unlinked, a contact re-pointed; snapshots never change.

/**
 * The parties at `positions` keep rawName, position and snapshot; the named link becomes null. With
 * reason `contact_forgotten` they are erased as well: rawName "[erased]", snapshot `erased`.
 */
export const PartiesUnlinkedSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
  positions: z.array(z.number().int().nonnegative()),
  /** The contact whose links were nulled (null: a staff person's). */
  contactUuid: uuid.nullable(),
  staffPersonUuid: uuid.nullable(),
  reason: z.enum(['contact_deleted', 'staff_person_deleted', 'contact_forgotten']),
  decisionId: uuid,
});

/** A merge: the subject re-pointed if `subject`, the parties at `positions` linked to `into`; snapshots unchanged. */
export const ContactRepointedSchema = z.strictObject({
  schemaVersion: z.literal(1),
  interactionUuid: uuid,
  fromContactUuid: uuid,
  intoContactUuid: uuid,
  subject: z.boolean(),
  positions: z.array(z.number().int().nonnegative()),
  decisionId: uuid,
});

export type PartiesUnlinkedData = z.infer<typeof PartiesUnlinkedSchema>;
export type ContactRepointedData = z.infer<typeof ContactRepointedSchema>;
// --- end of the contacts' lifecycle events

// --- Late linking (linkParty): a party resolved later, with a snapshot taken then.

/** The party at `position` gets exactly one of the two links and `snapshot`; its rawName stays. */
export const PartyLinkedSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    interactionUuid: uuid,
    position: z.number().int().nonnegative(),
    contactUuid: uuid.nullable(),
    staffPersonUuid: uuid.nullable(),
    snapshot: snapshotSchema,
  })
  .refine((d) => (d.contactUuid === null) !== (d.staffPersonUuid === null), {
    error: 'must link exactly one of contactUuid and staffPersonUuid',
    path: ['contactUuid'],
  });

export type PartyLinkedData = z.infer<typeof PartyLinkedSchema>;
// --- end of late linking

export type InteractionLoggedData = z.infer<typeof InteractionLoggedSchema>;
export type InteractionUpdatedData = z.infer<typeof InteractionUpdatedSchema>;
export type PartiesRebuiltData = z.infer<typeof PartiesRebuiltSchema>;
export type InteractionDeletedData = z.infer<typeof InteractionDeletedSchema>;

export const EVENT_SCHEMAS = {
  InteractionLogged: InteractionLoggedSchema,
  InteractionUpdated: InteractionUpdatedSchema,
  PartiesRebuilt: PartiesRebuiltSchema,
  InteractionDeleted: InteractionDeletedSchema,
  PartiesUnlinked: PartiesUnlinkedSchema,
  ContactRepointed: ContactRepointedSchema,
  PartyLinked: PartyLinkedSchema,
} as const;

export type InteractionEventType = keyof typeof EVENT_SCHEMAS;
export const INTERACTION_EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as InteractionEventType[];

/** A domain event: what `decide` returns and `evolve` folds. */
export type InteractionEvent =
  | { type: 'InteractionLogged'; data: InteractionLoggedData }
  | { type: 'InteractionUpdated'; data: InteractionUpdatedData }
  | { type: 'PartiesRebuilt'; data: PartiesRebuiltData }
  | { type: 'InteractionDeleted'; data: InteractionDeletedData }
  | { type: 'PartiesUnlinked'; data: PartiesUnlinkedData }
  | { type: 'ContactRepointed'; data: ContactRepointedData }
  | { type: 'PartyLinked'; data: PartyLinkedData };

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

/**
 * Turns the data of one event type from `schemaVersion` n into n+1 (the result must say n+1). Pure: it
 * sees only the event's data, so every reader (write side, projections, history) upcasts alike.
 */
export interface EventUpcaster {
  eventType: InteractionEventType;
  fromVersion: number;
  upcast: (data: Record<string, unknown>) => Record<string, unknown>;
}

/** The schemaVersion every schema above accepts: what upcasting ends at. */
export const CURRENT_SCHEMA_VERSION = 1;

/**
 * The module's own chain. v0 of InteractionLogged (pre-release logs) named the type `kind` and had no
 * files; it is kept as the chain's first link and as the fixture that proves the chain works.
 */
const BUILT_IN_UPCASTERS: EventUpcaster[] = [
  {
    eventType: 'InteractionLogged',
    fromVersion: 0,
    upcast: ({ kind, files, ...rest }) => ({ ...rest, schemaVersion: 1, interactionType: kind, fileUuids: files ?? [] }),
  },
];

const upcasters = new Map<string, EventUpcaster['upcast']>();
const upcasterKey = (type: string, fromVersion: number) => `${type}@${fromVersion}`;

/**
 * Adds a link to the chain of `eventType` (process-wide: `parseEvent` has no other context), replacing
 * one registered for the same version. Returns a function that removes it again.
 */
export function registerUpcaster(upcaster: EventUpcaster): () => void {
  // Entries come from the host's JavaScript too (a module file: CRM_INTERACTIONS_UPCASTERS), unchecked by types.
  if (typeof upcaster !== 'object' || upcaster === null) throw new Error('registerUpcaster: an upcaster must be an object');
  if (!isInteractionEventType(upcaster.eventType)) throw new Error(`registerUpcaster: unknown event type ${upcaster.eventType}`);
  if (!Number.isInteger(upcaster.fromVersion) || upcaster.fromVersion < 0 || upcaster.fromVersion >= CURRENT_SCHEMA_VERSION) {
    throw new Error(`registerUpcaster: fromVersion must be an integer from 0 to ${CURRENT_SCHEMA_VERSION - 1}`);
  }
  // Else its link would be missing, hiding the one it replaced, and every event it should read parked.
  if (typeof upcaster.upcast !== 'function') throw new Error('registerUpcaster: upcast must be a function');
  const key = upcasterKey(upcaster.eventType, upcaster.fromVersion);
  const previous = upcasters.get(key);
  upcasters.set(key, upcaster.upcast);
  const remove = () => {
    if (upcasters.get(key) !== upcaster.upcast) return;
    if (previous && previous !== upcaster.upcast) upcasters.set(key, previous);
    else upcasters.delete(key);
  };
  registered.set(upcaster, remove);
  return remove;
}

const registered = new WeakMap<EventUpcaster, () => void>();

/** Removes an upcaster `registerUpcaster` added (the one it replaced comes back). */
export function unregisterUpcaster(upcaster: EventUpcaster): void {
  registered.get(upcaster)?.();
  registered.delete(upcaster);
}

for (const upcaster of BUILT_IN_UPCASTERS) registerUpcaster(upcaster);

/** Runs the chain from the data's schemaVersion up to the current one; current data passes untouched. */
function upcast(type: InteractionEventType, data: unknown): unknown {
  let current = data;
  for (;;) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return current;
    const version = (current as { schemaVersion?: unknown }).schemaVersion;
    if (typeof version !== 'number' || !Number.isInteger(version) || version >= CURRENT_SCHEMA_VERSION || version < 0) {
      return current; // the schema check reports it
    }
    const link = upcasters.get(upcasterKey(type, version));
    if (!link) throw new InvalidEventError(type, `no upcaster from schemaVersion ${version}`);
    let next: unknown;
    try {
      next = link(current as Record<string, unknown>);
    } catch (error) {
      throw new InvalidEventError(type, `upcaster from schemaVersion ${version} failed: ${errorText(error)}`);
    }
    if ((next as { schemaVersion?: unknown } | null)?.schemaVersion !== version + 1) {
      throw new InvalidEventError(type, `upcaster from schemaVersion ${version} did not produce schemaVersion ${version + 1}`);
    }
    current = next;
  }
}

/**
 * Events decided in this process and checked against their schema before the append (`checkEvent`), by
 * their data object: the append's inline projection gets that same object back and takes the check's
 * result instead of parsing it again (`parseChecked`). Data read from a store is always a new object, so
 * always parsed. Held weakly: an entry goes with its data.
 */
const checkedBeforeAppend = new WeakMap<object, InteractionEvent>();

/**
 * The write side's parse before append: the event as its schema reads it, or the schema's issues. The
 * event's data must not change afterwards (the decider's output never does): `parseChecked` of that
 * object answers with this result.
 */
export function checkEvent(event: InteractionEvent): { checked: InteractionEvent } | { issues: z.core.$ZodIssue[] } {
  const result = EVENT_SCHEMAS[event.type].safeParse(event.data);
  if (!result.success) {
    checkedBeforeAppend.delete(event.data);
    return { issues: result.error.issues };
  }
  const checked = { type: event.type, data: result.data } as InteractionEvent;
  checkedBeforeAppend.set(event.data, checked);
  return { checked };
}

/**
 * `parseEvent`, or the result of `checkEvent` for the same data object: for the projection alone, which
 * neither changes nor hands out what it parsed (a reader that does, a host's, gets a parse of its own).
 */
export function parseChecked(type: string, data: unknown): InteractionEvent {
  const checked = typeof data === 'object' && data !== null ? checkedBeforeAppend.get(data) : undefined;
  return checked?.type === type ? checked : parseEvent(type, data);
}

/** Upcasts an event's data and validates it against the schema of its type. */
export function parseEvent(type: string, data: unknown): InteractionEvent {
  if (!isInteractionEventType(type)) throw new InvalidEventError(type, 'unknown event type');
  const result = EVENT_SCHEMAS[type].safeParse(upcast(type, data));
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
