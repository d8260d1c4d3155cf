import { z } from 'zod';
import { EVENT_SCHEMAS, InteractionLoggedSchema, PartiesRebuiltSchema } from '../domain/events';
import { INTERACTION_TYPES } from '../domain/interaction';
import { MAX_METADATA_BYTES, MAX_METADATA_DEPTH, STORABLE_TEXT } from '../domain/storable';
import { PARKED_COUNT_CAP } from '../nest/interactions.maintenance';
import {
  isoDateTimeSchema,
  MAX_BODY_CHARACTERS,
  MAX_FILE_UUIDS,
  MAX_PARTIES,
  MAX_TEXT_CHARACTERS,
  uuidSchema,
  versionSchema,
} from '../domain/validation';
import { contactChangesSchema, newContactSchema } from './contacts';
import { SAMPLE_CONTACT_UUIDS } from './sample-data';

/**
 * The demo host's bodies as zod schemas, each registered under its OpenAPI component name and turned into
 * `components.schemas` by zod's own `z.toJSONSchema` (openapi.ts). The stored shapes (an interaction's
 * attributes, a party, a snapshot) are the event schemas' own fields, and the contact bodies are the
 * schemas DemoContacts parses with, so the document cannot drift from what is validated. The rules of a
 * command's input are hand-written in src/domain/validation.ts (blank means default, uuids in any letter
 * case); the request bodies here are built from its exported limits, uuid, date and version schemas and
 * storable.ts's character rule, and test/demo/openapi-request-agreement.spec.ts proves on generated bodies
 * that each accepts exactly what the command's validation accepts, but for the differences it lists.
 */
export const openApiRegistry = z.registry<{ id: string }>();

/**
 * Registers `schema` as the component `id` (the generator replaces every use of it with a $ref). Its
 * description and example go where zod keeps every schema's (`.describe()`'s global registry).
 */
function component<T extends z.ZodType>(id: string, schema: T, description?: string, example?: unknown): T {
  openApiRegistry.add(schema, { id });
  if (description || example !== undefined) {
    z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), ...(description && { description }), ...(example !== undefined && { example }) });
  }
  return schema;
}

const logged = InteractionLoggedSchema.shape;
const storedParty = PartiesRebuiltSchema.shape.parties.element;
const uuid = z.uuid();
/** What `Date` serialises to: ISO-8601 UTC with milliseconds. */
const timestamp = z.iso.datetime();
const example = { contactUuid: SAMPLE_CONTACT_UUIDS.ada, other: SAMPLE_CONTACT_UUIDS.grace };

// --- Answers

export const PartySnapshotSchema = component(
  'PartySnapshot',
  storedParty.shape.snapshot,
  "who the party was when it was linked, frozen: a contact's or staff person's details, free text, or erased",
);

export const PartySchema = component('Party', storedParty.safeExtend({ snapshot: PartySnapshotSchema }));

const interactionShape = {
  uuid,
  contactUuid: logged.contactUuid,
  interactionType: logged.interactionType,
  occurredAt: timestamp,
  subject: logged.subject,
  body: logged.body,
  ownerUserUuid: logged.ownerUserUuid,
  metadata: logged.metadata,
  fileUuids: logged.fileUuids,
  insertedAt: timestamp,
  updatedAt: timestamp,
  version: z.number().int().min(1),
  parties: z.array(PartySchema),
};

export const InteractionSchema = component('Interaction', z.strictObject(interactionShape));

export const ContactSchema = component(
  'Contact',
  z.strictObject({
    uuid,
    name: z.string().nullable(),
    email: z.string().nullable(),
    company: z.string().nullable(),
    roleInCompany: z.string().nullable(),
    department: z.string().nullable(),
  }),
  "a contact of the demo host's own directory",
);

export const InteractionWithContactSchema = component(
  'InteractionWithContact',
  z.strictObject({ ...interactionShape, contact: ContactSchema.nullable() }),
  'an interaction with its subject contact (null when the directory no longer has it)',
);

const nextCursor = z.string().nullable().describe("the next page's `after`; null when this page is not full");
export const InteractionPageSchema = component('InteractionPage', z.strictObject({ items: z.array(InteractionSchema), nextCursor }));
export const InteractionWithContactPageSchema = component(
  'InteractionWithContactPage',
  z.strictObject({ items: z.array(InteractionWithContactSchema), nextCursor }),
);

const count = z.number().int().nonnegative();
export const InteractionCountsSchema = component(
  'InteractionCounts',
  z.strictObject({ total: count, byType: z.strictObject(Object.fromEntries(INTERACTION_TYPES.map((type) => [type, count])) as Record<(typeof INTERACTION_TYPES)[number], typeof count>) }),
  'every type present, 0 where there is none',
  { total: 1, byType: { call: 1, email: 0, meeting: 0, note: 0, other: 0 } },
);

export const InteractionUuidsSchema = component('InteractionUuids', z.array(uuid));
export const ContactListSchema = component('ContactList', z.array(ContactSchema));

export const RecordedEventSchema = component(
  'RecordedEvent',
  z.strictObject({
    id: uuid,
    streamName: z.string(),
    revision: z.number().int().nonnegative().describe("0 for the stream's first event"),
    position: z.strictObject({ commit: z.string(), prepare: z.string() }).describe('the global position, as decimal strings'),
    // The auditor's raw view: an event this version cannot read (the other routes' 500 interaction_unreadable)
    // is still shown, as stored, so neither its type nor its data can be promised.
    type: z.string().describe(`one of the module's types (${Object.keys(EVENT_SCHEMAS).join(', ')}), or whatever an unreadable event holds`),
    data: z
      .unknown()
      .describe("any JSON value: the event's data, upcast to its type's schema (src/domain/events.ts) where that schema reads it, else as stored"),
    metadata: z.union([
      z.strictObject({
        actorUuid: uuid.nullable(),
        correlationId: z.string(),
        causationId: z.string().nullable(),
        recordedAt: timestamp,
        idempotencyKey: z.string().optional(),
      }),
      z.unknown().describe('as stored, for an event this version cannot read (metadata without its fields is one such)'),
    ]),
  }),
);
export const HistorySchema = component('InteractionHistory', z.array(RecordedEventSchema), "the stream's events in order");

export const LifecycleResultSchema = component(
  'LifecycleResult',
  z.strictObject({ interactions: count.describe('how many interaction streams were appended to') }),
);

export const UnresolvedPartySchema = component(
  'UnresolvedParty',
  z.strictObject({ interactionUuid: uuid, position: count, rawName: z.string(), occurredAt: timestamp }),
);
export const UnresolvedPartiesSchema = component('UnresolvedParties', z.array(UnresolvedPartySchema));

const indicatorStatus = z.enum(['up', 'degraded', 'down']);
const indicators = z.strictObject({
  database: z.strictObject({ status: indicatorStatus, error: z.string().optional() }),
  eventStore: z.strictObject({ status: indicatorStatus, kind: z.string(), error: z.string().optional() }),
  projection: z.strictObject({
    status: indicatorStatus,
    mode: z.string(),
    parked: count
      .nullable()
      .describe(`events parked, counted up to ${PARKED_COUNT_CAP.toLocaleString('en')}; null when they could not be counted (the database down)`),
    caughtUp: z.boolean(),
    lag: z.string(),
    role: z.string().optional(),
    lastError: z.string().optional(),
  }),
});
export const HealthSchema = component(
  'Health',
  z.strictObject({ status: z.enum(['ok', 'degraded', 'down']), info: indicators.partial(), error: indicators.partial(), details: indicators }),
  'the shape of @nestjs/terminus: `info` what is up, `error` what is not, `details` all',
);

// --- Errors (src/demo/http-errors.filter.ts)

export const ValidationErrorsSchema = component(
  'ValidationErrors',
  z.strictObject({ errors: z.record(z.string(), z.array(z.string())) }),
  "field → messages, with the module's field names",
  { errors: { contactUuid: ['is required'] } },
);
export const ErrorSchema = component('HttpError', z.strictObject({ error: z.string(), message: z.string() }), 'a status without details');
export const ConflictSchema = component(
  'Conflict',
  z.strictObject({ error: z.literal('Conflict'), message: z.string(), actualVersion: z.number().int().nonnegative() }),
  'expectedVersion was not the current version',
);
export const UnavailableSchema = component(
  'Unavailable',
  z.strictObject({ error: z.literal('Service Unavailable'), message: z.string(), committed: z.union([z.boolean(), z.literal('unknown')]) }),
  '`committed`: whether the command was saved before the failure (then only the read is to be retried); `unknown` when the ' +
    'connection was lost while it committed (a retry with the same Idempotency-Key is safe)',
);

// --- Requests: what validation.ts accepts, as far as JSON Schema can say it

/** A string the stores can hold (storable.ts): no U+0000, no unpaired surrogate. */
const storableText = z.string().regex(STORABLE_TEXT);
/** A value, or what validation.ts takes for "not given" (`isBlank`: "" and null): then the default applies. */
const orBlank = <T extends z.ZodType>(schema: T) => z.union([schema, z.literal(''), z.null()]);
const blank = z.union([z.literal(''), z.null()]);
// The written year 0000 is kept out; an offset that carries an instant across 0001–9999 is not (a pattern
// reads digits, not instants: the agreement test lists it).
export const dateText = isoDateTimeSchema.and(z.string().regex(/^(?!0000)/));
const occurredAt = orBlank(dateText)
  .describe('ISO-8601 date-time (no offset is UTC) or date, years 0001–9999; stored to the whole second; "", null or absent: now');
const metadataKey = storableText.regex(/^(?!__proto__$)/);
// Unconstrained: a schema that checks every level must refer to itself, which some client generators cannot
// take (openapi-typescript's types fail with TS2502). The host's validation (validation.ts) still checks it all.
export const JsonValueSchema = component(
  'JsonValue',
  z.unknown(),
  'any JSON value; the host refuses (422) a string (keys too) holding NUL or an unpaired surrogate, a "__proto__" key and a ' +
    'number beyond ±1.8e308, at any depth',
);
const attrs = {
  contactUuid: uuidSchema.describe('the subject contact, in any letter case; must exist'),
  interactionType: orBlank(z.enum(INTERACTION_TYPES)).describe('"", null or absent: note'),
  occurredAt,
  subject: storableText.max(MAX_TEXT_CHARACTERS).nullable(),
  body: storableText.max(MAX_BODY_CHARACTERS).nullable(),
  ownerUserUuid: orBlank(uuidSchema),
  metadata: z
    .record(metadataKey, JsonValueSchema)
    .nullable()
    .describe(`plain JSON, at most ${MAX_METADATA_DEPTH} levels deep and ${MAX_METADATA_BYTES.toLocaleString('en')} bytes; null: {}`),
};

/** A name whose trimmed text (trim() removes what `\s` matches) is 1 to MAX_TEXT_CHARACTERS characters. */
const partyName = storableText
  .regex(new RegExp(`^\\s*\\S(?:[\\s\\S]{0,${MAX_TEXT_CHARACTERS - 2}}\\S)?\\s*$`))
  .describe(`the name as typed; trimmed, at most ${MAX_TEXT_CHARACTERS} characters`);
const namedParty = (resolvesTo: 'contactUuid' | 'staffPersonUuid') =>
  z.object({
    rawName: partyName,
    contactUuid: (resolvesTo === 'contactUuid' ? orBlank(uuidSchema) : blank).optional(),
    staffPersonUuid: (resolvesTo === 'staffPersonUuid' ? orBlank(uuidSchema) : blank).optional(),
  });

export const PartyInputSchema = component(
  'PartyInput',
  z.union([
    namedParty('contactUuid'),
    namedParty('staffPersonUuid'),
    z
      .object({ rawName: z.union([z.null(), z.string().regex(/^\s*$/)]).optional() })
      .describe('a blank (or no) rawName: the party is dropped, whatever else it holds'),
  ]),
  'at most one of contactUuid and staffPersonUuid ("" and null are none); a blank rawName drops the party',
);
const parties = z.array(PartyInputSchema).max(MAX_PARTIES).nullable();

export const NewInteractionSchema = component(
  'NewInteraction',
  z.object({
    ...attrs,
    interactionType: attrs.interactionType.optional(),
    occurredAt: occurredAt.optional(),
    subject: attrs.subject.optional(),
    body: attrs.body.optional(),
    ownerUserUuid: attrs.ownerUserUuid.optional(),
    metadata: attrs.metadata.optional(),
    parties: parties.optional().describe('null or absent: none'),
    fileUuids: z.array(uuidSchema).max(MAX_FILE_UUIDS).nullable().optional().describe('null or absent: none'),
  }),
  'POST /interactions (other properties are ignored)',
  { contactUuid: example.contactUuid, interactionType: 'call', subject: 'Renewal', parties: [{ rawName: 'Grace', contactUuid: example.other }] },
);

export const InteractionChangesSchema = component(
  'InteractionChanges',
  z.object({
    ...z.object(attrs).partial().shape,
    parties: parties.optional().describe('a list replaces the parties ([] clears); absent or null leaves them'),
    expectedVersion: versionSchema.nullable().optional().describe("the version read: 409 when it is not the current one"),
  }),
  'PATCH /interactions/{uuid}: only the given attributes change (other properties, fileUuids too, are ignored)',
  { subject: 'Renewal, signed', expectedVersion: 1 },
);

export const LinkPartySchema = component(
  'LinkParty',
  // The other link absent or null: both given is refused (`cannot resolve to both...`).
  z.union([z.object({ contactUuid: uuid, staffPersonUuid: z.null().optional() }), z.object({ staffPersonUuid: uuid, contactUuid: z.null().optional() })]),
  'exactly one of contactUuid and staffPersonUuid',
  { contactUuid: example.contactUuid },
);

export const MergeContactSchema = component(
  'MergeContact',
  z.object({ intoUuid: uuid.describe('the contact that stays; must exist and differ') }),
  undefined,
  { intoUuid: example.other },
);

export const NewContactSchema = component('NewContact', newContactSchema, undefined, { name: 'Katherine Johnson', email: 'katherine@example.com' });
export const ContactChangesSchema = component('ContactChanges', contactChangesSchema, 'only the given fields change', { name: 'Ada King' });

/** An example for path parameters that name a contact: one the sample data adds. */
export const EXAMPLE_CONTACT_UUID = SAMPLE_CONTACT_UUIDS.ada;

/** `components.schemas` of the document: every schema above, by its id, with $refs between them. */
export function componentSchemas(): Record<string, object> {
  const { schemas } = z.toJSONSchema(openApiRegistry, {
    target: 'draft-2020-12', // OpenAPI 3.1's schema dialect: null is a type (3.0's `nullable` cannot qualify a $ref)
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _, $id: __, ...schema }]) => [id, schema]));
}
