import { z } from 'zod';
import { EVENT_SCHEMAS, InteractionLoggedSchema, PartiesRebuiltSchema } from '../domain/events';
import { INTERACTION_TYPES } from '../domain/interaction';
import { MAX_BODY_CHARACTERS, MAX_FILE_UUIDS, MAX_PARTIES } from '../domain/validation';
import { contactChangesSchema, newContactSchema } from './contacts';
import { SAMPLE_CONTACT_UUIDS } from './sample-data';

/**
 * The demo host's bodies as zod schemas, each registered under its OpenAPI component name and turned into
 * `components.schemas` by zod's own `z.toJSONSchema` (openapi.ts). The stored shapes (an interaction's
 * attributes, a party, a snapshot) are the event schemas' own fields, and the contact bodies are the
 * schemas DemoContacts parses with, so the document cannot drift from what is validated. The attribute
 * rules of a command (blank means default, any letter case for uuids) are hand-written in
 * src/domain/validation.ts; their request bodies here restate them with the same limits.
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

export const PartySchema = component('Party', storedParty.extend({ snapshot: PartySnapshotSchema }));

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
    type: z.enum(Object.keys(EVENT_SCHEMAS) as [keyof typeof EVENT_SCHEMAS, ...Array<keyof typeof EVENT_SCHEMAS>]),
    data: z.record(z.string(), z.unknown()).describe("the event's data, as its type's schema (src/domain/events.ts) says"),
    metadata: z.strictObject({
      actorUuid: uuid.nullable(),
      correlationId: z.string(),
      causationId: z.string().nullable(),
      recordedAt: timestamp,
      idempotencyKey: z.string().optional(),
    }),
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
    parked: count,
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

// --- Requests

const uuidOrNull = uuid.nullable();
const occurredAt = z
  .union([z.iso.datetime({ offset: true, local: true }), z.iso.date()])
  .describe('ISO-8601 date-time (no offset is UTC) or date, years 0001–9999; stored to the whole second; default now');
const attrs = {
  contactUuid: uuid.describe('the subject contact; must exist'),
  interactionType: z.enum(INTERACTION_TYPES).describe('default note'),
  occurredAt,
  subject: z.string().max(255).nullable(),
  body: z.string().max(MAX_BODY_CHARACTERS).nullable(),
  ownerUserUuid: uuidOrNull,
  metadata: z.record(z.string(), z.unknown()).nullable().describe('plain JSON, at most 32 levels deep and 65,536 bytes'),
};

export const PartyInputSchema = component(
  'PartyInput',
  z.object({
    rawName: z.string().max(255).describe('the name as typed; a blank one drops the party'),
    contactUuid: uuidOrNull.optional(),
    staffPersonUuid: uuidOrNull.optional(),
  }),
  'at most one of contactUuid and staffPersonUuid',
);

export const NewInteractionSchema = component(
  'NewInteraction',
  z.object({
    ...attrs,
    interactionType: attrs.interactionType.optional(),
    occurredAt: occurredAt.optional(),
    subject: attrs.subject.optional(),
    body: attrs.body.optional(),
    ownerUserUuid: uuidOrNull.optional(),
    metadata: attrs.metadata.optional(),
    parties: z.array(PartyInputSchema).max(MAX_PARTIES).optional(),
    fileUuids: z.array(uuid).max(MAX_FILE_UUIDS).optional(),
  }),
  'POST /interactions',
  { contactUuid: example.contactUuid, interactionType: 'call', subject: 'Renewal', parties: [{ rawName: 'Grace', contactUuid: example.other }] },
);

export const InteractionChangesSchema = component(
  'InteractionChanges',
  z.object({
    ...z.object(attrs).partial().shape,
    parties: z.array(PartyInputSchema).max(MAX_PARTIES).nullable().optional().describe('a list replaces the parties ([] clears); absent or null leaves them'),
    expectedVersion: z.number().int().nonnegative().optional().describe("the version read: 409 when it is not the current one"),
  }),
  'PATCH /interactions/{uuid}: only the given attributes change',
  { subject: 'Renewal, signed', expectedVersion: 1 },
);

export const LinkPartySchema = component(
  'LinkParty',
  z.union([z.object({ contactUuid: uuid }), z.object({ staffPersonUuid: uuid })]),
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
