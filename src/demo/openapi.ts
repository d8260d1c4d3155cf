import { INTERACTION_TYPES } from '../domain/interaction';

/** OpenAPI shapes of the demo's bodies (validation itself is the module's zod-backed rules). */
const uuid = { type: 'string', format: 'uuid' } as const;

export const INTERACTION_BODY_SCHEMA = {
  type: 'object',
  properties: {
    contactUuid: uuid,
    interactionType: { type: 'string', enum: [...INTERACTION_TYPES], default: 'note' },
    occurredAt: { type: 'string', format: 'date-time', description: 'default now, whole seconds' },
    subject: { type: 'string', maxLength: 255, nullable: true },
    body: { type: 'string', maxLength: 1000000, nullable: true },
    ownerUserUuid: { ...uuid, nullable: true },
    metadata: {
      type: 'object',
      additionalProperties: true,
      description: 'plain JSON, at most 32 levels deep and 65,536 bytes',
    },
    fileUuids: { type: 'array', items: uuid, maxItems: 1000, description: 'create only' },
    expectedVersion: { type: 'integer', description: 'update only: optimistic concurrency' },
    parties: {
      type: 'array',
      maxItems: 500,
      nullable: true,
      description: 'create: default []; update: a list replaces the parties ([] clears), absent or null leaves them',
      items: {
        type: 'object',
        properties: {
          rawName: { type: 'string', maxLength: 255 },
          contactUuid: { ...uuid, nullable: true },
          staffPersonUuid: { ...uuid, nullable: true },
        },
      },
    },
  },
  example: { contactUuid: '0190d6b4-5c1e-7000-8000-000000000001', interactionType: 'call', subject: 'Renewal' },
};

/** PUT /interactions/:uuid/parties/:position/link: exactly one of the two. */
export const LINK_BODY_SCHEMA = {
  type: 'object',
  properties: { contactUuid: uuid, staffPersonUuid: uuid },
  description: 'exactly one of contactUuid and staffPersonUuid',
  example: { contactUuid: '0190d6b4-5c1e-7000-8000-000000000001' },
};

/** POST /contacts/:uuid/merge. */
export const MERGE_BODY_SCHEMA = {
  type: 'object',
  required: ['intoUuid'],
  properties: { intoUuid: { ...uuid, description: 'the contact that stays; must exist' } },
  example: { intoUuid: '0190d6b4-5c1e-7000-8000-000000000002' },
};

export const CONTACT_BODY_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    email: { type: 'string', format: 'email' },
    company: { type: 'string' },
    roleInCompany: { type: 'string' },
    department: { type: 'string' },
  },
  example: { name: 'Grace Hopper', email: 'grace@example.com', company: 'Navy' },
};

/** The request headers the demo passes to the module's commands. */
export const ACTOR_HEADER = { name: 'x-actor-uuid', required: false, description: 'who acts; recorded in the event metadata' };
export const REQUEST_ID_HEADER = {
  name: 'x-request-id',
  required: false,
  description: "ties the command's events to the request (their correlationId); a new id when absent",
};
export const IDEMPOTENCY_KEY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description:
    '1 to 200 characters: a repeat with the same key and the same request answers the first result and writes ' +
    'nothing; the same key with another request is a 422 on idempotencyKey. Kept at least 24 hours.',
};

/** What every feed route answers (see feed-query.ts). */
export const FEED_ANSWER_SCHEMA = {
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: {
      type: 'array',
      items: { type: 'object', description: 'an interaction, newest first (with its subject `contact` on /interactions and /interactions/recent)' },
    },
    nextCursor: {
      type: 'string',
      nullable: true,
      description: "the next page's `after`; null when this page is not full (the last page)",
    },
  },
};

/** What a count route answers: every type present, 0 where there is none. */
export const COUNTS_ANSWER_SCHEMA = {
  type: 'object',
  required: ['total', 'byType'],
  properties: {
    total: { type: 'integer' },
    byType: {
      type: 'object',
      required: [...INTERACTION_TYPES],
      properties: Object.fromEntries(INTERACTION_TYPES.map((type) => [type, { type: 'integer' }])),
    },
  },
  example: { total: 3, byType: Object.fromEntries(INTERACTION_TYPES.map((type, i) => [type, i === 0 ? 3 : 0])) },
};
