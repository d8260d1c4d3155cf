import { z } from 'zod';
import { ErrorCollector, FieldErrors } from './errors';
import { INTERACTION_TYPES, InteractionType, JsonObject } from './interaction';
import { truncateToSecond } from './events';

/**
 * Turns untrusted input (from a host's code or an HTTP body) into normalised values, or field-keyed
 * messages. Pure: existence checks against the directories happen in `decide`, which gets the lookups.
 */

export const MESSAGES = {
  required: 'is required',
  uuid: 'is not a valid UUID',
  interactionType: `must be one of: ${INTERACTION_TYPES.join(', ')}`,
  date: 'is not a valid date',
  string: 'must be a string',
  max255: 'must be at most 255 characters',
  object: 'must be an object',
  list: 'must be a list',
  uuidList: 'must be a list of UUIDs',
  doesNotExist: 'does not exist',
  bothResolved: 'cannot resolve to both a contact and a staff person',
} as const;

export interface NormalisedAttrs {
  contactUuid: string;
  interactionType: InteractionType;
  occurredAt: Date;
  subject: string | null;
  body: string | null;
  ownerUserUuid: string | null;
  metadata: JsonObject;
}
export type AttrName = keyof NormalisedAttrs;
export const ATTR_NAMES: readonly AttrName[] = [
  'contactUuid',
  'interactionType',
  'occurredAt',
  'subject',
  'body',
  'ownerUserUuid',
  'metadata',
];

export interface NormalisedParty {
  rawName: string;
  contactUuid: string | null;
  staffPersonUuid: string | null;
  /** Index in the caller's list, so errors found later point at the input the caller sent. */
  inputIndex: number;
}

type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

const isBlank = (value: unknown): value is null | undefined | '' =>
  value === undefined || value === null || value === '';

const uuidSchema = z.uuid({ error: MESSAGES.uuid });
const typeSchema = z.enum(INTERACTION_TYPES, { error: MESSAGES.interactionType });
// ISO-8601 with or without an offset (no offset means UTC), or a calendar date (midnight UTC).
const isoDateTimeSchema = z.union([z.iso.datetime({ offset: true, local: true }), z.iso.date()]);
const metadataSchema = z.custom<JsonObject>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date),
  { error: MESSAGES.object },
);
const nameSchema = z
  .string({ error: MESSAGES.string })
  .refine((s) => [...s].length <= 255, { error: MESSAGES.max255 });
const textSchema = z.string({ error: MESSAGES.string });
const fileUuidsSchema = z.array(z.uuid({ error: MESSAGES.uuidList }), { error: MESSAGES.uuidList });

function parseDate(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value !== 'string' || !isoDateTimeSchema.safeParse(value).success) return null;
  const hasZone = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value) || !value.includes('T');
  const date = new Date(hasZone ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Runs one field's schema and records its first message under `field`. */
function check<T>(schema: z.ZodType<T>, value: unknown, field: string, errors: ErrorCollector): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const message = result.error.issues[0]?.message ?? 'is invalid';
  errors.add(field, message);
  return undefined;
}

/**
 * Normalises attributes. On create every attribute gets a value (defaults per CONTRACT.md); on update
 * only the keys present in `input` are returned, and a present-but-blank value means "default".
 */
export function validateAttrs(
  input: unknown,
  mode: 'create' | 'update',
  now: Date,
): Validated<Partial<NormalisedAttrs>> {
  const errors = new ErrorCollector();
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    errors.add('attrs', MESSAGES.object);
    return { ok: false, errors: errors.errors };
  }
  const raw = (input ?? {}) as Record<string, unknown>;
  const present = (name: AttrName) => mode === 'create' || (name in raw && raw[name] !== undefined);
  const out: Partial<NormalisedAttrs> = {};

  if (present('contactUuid')) {
    if (isBlank(raw.contactUuid)) errors.add('contactUuid', MESSAGES.required);
    else out.contactUuid = check(uuidSchema, raw.contactUuid, 'contactUuid', errors);
  }
  if (present('interactionType')) {
    out.interactionType = isBlank(raw.interactionType)
      ? 'note'
      : check(typeSchema, raw.interactionType, 'interactionType', errors);
  }
  if (present('occurredAt')) {
    if (isBlank(raw.occurredAt)) out.occurredAt = truncateToSecond(now);
    else {
      const date = parseDate(raw.occurredAt);
      if (date) out.occurredAt = truncateToSecond(date);
      else errors.add('occurredAt', MESSAGES.date);
    }
  }
  for (const [field, schema] of [
    ['subject', nameSchema],
    ['body', textSchema],
  ] as const) {
    if (!present(field)) continue;
    const value = raw[field];
    out[field] = value === undefined || value === null ? null : (check(schema, value, field, errors) ?? null);
  }
  if (present('ownerUserUuid')) {
    out.ownerUserUuid = isBlank(raw.ownerUserUuid)
      ? null
      : (check(uuidSchema, raw.ownerUserUuid, 'ownerUserUuid', errors) ?? null);
  }
  if (present('metadata')) {
    const value = raw.metadata;
    out.metadata =
      value === undefined || value === null ? {} : (check(metadataSchema, value, 'metadata', errors) ?? {});
  }

  return errors.isEmpty ? { ok: true, value: out } : { ok: false, errors: errors.errors };
}

/** Trims names, drops blank inputs, and checks each party's references (existence is checked later). */
export function validateParties(input: unknown): Validated<NormalisedParty[]> {
  const errors = new ErrorCollector();
  if (input === undefined || input === null) return { ok: true, value: [] };
  if (!Array.isArray(input)) {
    errors.add('parties', MESSAGES.list);
    return { ok: false, errors: errors.errors };
  }
  const parties: NormalisedParty[] = [];
  input.forEach((item: unknown, index) => {
    const key = `parties.${index}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      errors.add(key, MESSAGES.object);
      return;
    }
    const raw = item as Record<string, unknown>;
    if (raw.rawName !== undefined && raw.rawName !== null && typeof raw.rawName !== 'string') {
      errors.add(`${key}.rawName`, MESSAGES.string);
      return;
    }
    const rawName = (raw.rawName ?? '').trim();
    if (rawName === '') return; // blank parties are dropped silently (CONTRACT.md)
    check(nameSchema, rawName, `${key}.rawName`, errors);
    const reference = (field: 'contactUuid' | 'staffPersonUuid') =>
      isBlank(raw[field]) ? null : (check(uuidSchema, raw[field], `${key}.${field}`, errors) ?? null);
    const contactUuid = reference('contactUuid');
    const staffPersonUuid = reference('staffPersonUuid');
    if (contactUuid && staffPersonUuid) errors.add(`${key}.contactUuid`, MESSAGES.bothResolved);
    parties.push({ rawName, contactUuid, staffPersonUuid, inputIndex: index });
  });
  return errors.isEmpty ? { ok: true, value: parties } : { ok: false, errors: errors.errors };
}

export function validateFileUuids(input: unknown): Validated<string[]> {
  if (input === undefined || input === null) return { ok: true, value: [] };
  const errors = new ErrorCollector();
  const value = check(fileUuidsSchema, input, 'fileUuids', errors);
  return value ? { ok: true, value } : { ok: false, errors: errors.errors };
}

export function isUuid(value: unknown): value is string {
  return uuidSchema.safeParse(value).success;
}

export const MAX_PAGE_SIZE = 1000;
const integerSchema = (min: number, max: number, error: string) =>
  z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
const limitSchema = integerSchema(1, MAX_PAGE_SIZE, `must be an integer between 1 and ${MAX_PAGE_SIZE}`);
const versionSchema = integerSchema(0, Number.MAX_SAFE_INTEGER, 'must be a non-negative integer');

/** A page size: absent means no limit. */
export function validateLimit(input: unknown): Validated<number | null> {
  if (input === undefined || input === null) return { ok: true, value: null };
  const errors = new ErrorCollector();
  const value = check(limitSchema, input, 'limit', errors);
  return value === undefined ? { ok: false, errors: errors.errors } : { ok: true, value };
}

export function validateExpectedVersion(input: unknown): Validated<number | undefined> {
  if (input === undefined || input === null) return { ok: true, value: undefined };
  const errors = new ErrorCollector();
  const value = check(versionSchema, input, 'expectedVersion', errors);
  return value === undefined ? { ok: false, errors: errors.errors } : { ok: true, value };
}

/** Merges the outcome of several validations: all values, or every error of every one of them. */
export function unwrapAll<T extends unknown[]>(...results: { [K in keyof T]: Validated<T[K]> }): T {
  const errors = new ErrorCollector();
  const values = results.map((result) => {
    if (result.ok) return result.value;
    for (const [field, messages] of Object.entries(result.errors)) messages.forEach((m) => errors.add(field, m));
    return undefined;
  });
  errors.throwIfAny();
  return values as T;
}
