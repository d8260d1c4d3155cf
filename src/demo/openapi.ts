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
    body: { type: 'string', nullable: true },
    ownerUserUuid: { ...uuid, nullable: true },
    metadata: { type: 'object', additionalProperties: true },
    fileUuids: { type: 'array', items: uuid, description: 'create only' },
    expectedVersion: { type: 'integer', description: 'update only: optimistic concurrency' },
    parties: {
      type: 'array',
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
