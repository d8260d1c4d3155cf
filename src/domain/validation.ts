import { z } from 'zod';
import { ErrorCollector, FieldErrors } from './errors';
import { INTERACTION_TYPES, InteractionType, JsonObject } from './interaction';
import { truncateToSecond } from './events';
import { MAX_SEARCH_CHARACTERS, searchQueryOf } from './search';
import { codePointLength, copyJsonObject, isStorableDate, isStorableString, JsonProblem } from './storable';

/**
 * Turns untrusted input (from a host's code or an HTTP body) into normalised values, or field-keyed
 * messages. Pure: existence checks against the directories happen in `decide`, which gets the lookups.
 */

/** subject, and a party's rawName (after trimming). */
export const MAX_TEXT_CHARACTERS = 255;
export const MAX_BODY_CHARACTERS = 1_000_000;
export const MAX_PARTIES = 500;
export const MAX_FILE_UUIDS = 1_000;
export const MAX_IDEMPOTENCY_KEY_CHARACTERS = 200;

export const MESSAGES = {
  required: 'is required',
  uuid: 'is not a valid UUID',
  interactionType: `must be one of: ${INTERACTION_TYPES.join(', ')}`,
  date: 'is not a valid date',
  string: 'must be a string',
  max255: `must be at most ${MAX_TEXT_CHARACTERS} characters`,
  maxBody: `must be at most ${MAX_BODY_CHARACTERS} characters`,
  object: 'must be an object',
  list: 'must be a list',
  uuidList: 'must be a list of UUIDs',
  doesNotExist: 'does not exist',
  bothResolved: 'cannot resolve to both a contact and a staff person',
  invalidCharacters: 'must not contain NUL or invalid characters',
  nestedTooDeeply: 'is nested too deeply',
  tooLarge: 'is too large',
  /** metadata holding a BigInt, function, symbol, undefined, NaN/Infinity, class instance or `toJSON`. */
  plainJson: 'must be a plain JSON object',
  cycle: 'must not contain cycles',
  /** A getter or Proxy trap threw while the value was read. */
  unreadable: 'could not be read',
  idempotencyKey: `must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARACTERS} characters`,
  /** linkParty of a party linked to another contact or staff person. */
  alreadyLinked: 'is already linked to another contact or staff person',
  /** linkParty of a party erased by a forget: it was the forgotten contact, no one else. */
  erased: 'was erased',
} as const;

/** The message of a list cap (parties, fileUuids). */
export const atMostEntries = (max: number): string => `must have at most ${max} entries`;

const METADATA_MESSAGES: Record<JsonProblem, string> = {
  not_object: MESSAGES.object,
  not_plain_json: MESSAGES.plainJson,
  invalid_characters: MESSAGES.invalidCharacters,
  too_deep: MESSAGES.nestedTooDeeply,
  too_large: MESSAGES.tooLarge,
  cycle: MESSAGES.cycle,
};

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

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

const isBlank = (value: unknown): value is null | undefined | '' =>
  value === undefined || value === null || value === '';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Exported for the demo host's OpenAPI request schemas (src/demo/openapi-schemas.ts), which build on them.
export const uuidSchema = z.uuid({ error: MESSAGES.uuid });
// ISO-8601 with or without an offset (no offset means UTC), or a calendar date (midnight UTC).
export const isoDateTimeSchema = z.union([z.iso.datetime({ offset: true, local: true }), z.iso.date()]);

/** The uuid in lower case (the one case the module stores and compares), or null when it is not a UUID. */
export function normaliseUuid(value: unknown): string | null {
  return typeof value === 'string' && uuidSchema.safeParse(value).success ? value.toLowerCase() : null;
}

export function isUuid(value: unknown): value is string {
  return normaliseUuid(value) !== null;
}

/** A Date or an ISO-8601 string, as a Date in the years 0001–9999; null for anything else. */
export function parseDate(value: unknown): Date | null {
  if (value instanceof Date) return isStorableDate(value) ? new Date(Date.prototype.getTime.call(value)) : null;
  if (typeof value !== 'string' || !isoDateTimeSchema.safeParse(value).success) return null;
  const hasZone = /(Z|[+-]\d{2}:\d{2})$/i.test(value) || !value.includes('T');
  const date = new Date(hasZone ? value : `${value}Z`);
  return isStorableDate(date) ? date : null;
}

/** Runs a validation; a getter or Proxy trap that throws becomes an error on `field`, never a raw error. */
function guarded<T>(field: string, validate: () => Validated<T>): Validated<T> {
  try {
    return validate();
  } catch {
    return { ok: false, errors: { [field]: [MESSAGES.unreadable] } };
  }
}

/** Reads one property; undefined when the source is not an object. Throws what the source throws. */
function read(source: unknown, key: string): unknown {
  return isRecord(source) ? source[key] : undefined;
}

/** A string the store can hold, at most `max` code points; the message of the first rule it breaks. */
function textProblem(value: unknown, max: number, tooLong: string): string | null {
  if (typeof value !== 'string') return MESSAGES.string;
  if (!isStorableString(value)) return MESSAGES.invalidCharacters;
  if (value.length > max && codePointLength(value) > max) return tooLong;
  return null;
}

type AttrRule = (value: unknown, field: AttrName, errors: ErrorCollector, now: Date) => unknown;

const uuidRule =
  (blank: 'required' | 'null'): AttrRule =>
  (value, field, errors) => {
    if (isBlank(value)) {
      if (blank === 'required') errors.add(field, MESSAGES.required);
      return null;
    }
    const uuid = normaliseUuid(value);
    if (uuid === null) errors.add(field, MESSAGES.uuid);
    return uuid;
  };

const textRule =
  (max: number, tooLong: string): AttrRule =>
  (value, field, errors) => {
    if (value === undefined || value === null) return null;
    const problem = textProblem(value, max, tooLong);
    if (problem) errors.add(field, problem);
    return problem ? null : value;
  };

const ATTR_RULES: Record<AttrName, AttrRule> = {
  contactUuid: uuidRule('required'),
  interactionType: (value, field, errors) => {
    if (isBlank(value)) return 'note';
    if (typeof value === 'string' && (INTERACTION_TYPES as readonly string[]).includes(value)) return value;
    errors.add(field, MESSAGES.interactionType);
    return undefined;
  },
  occurredAt: (value, field, errors, now) => {
    if (isBlank(value)) return truncateToSecond(now);
    const date = parseDate(value);
    if (!date) errors.add(field, MESSAGES.date);
    return date ? truncateToSecond(date) : undefined;
  },
  subject: textRule(MAX_TEXT_CHARACTERS, MESSAGES.max255),
  body: textRule(MAX_BODY_CHARACTERS, MESSAGES.maxBody),
  ownerUserUuid: uuidRule('null'),
  metadata: (value, field, errors) => {
    if (value === undefined || value === null) return {};
    const copy = copyJsonObject(value);
    if (!copy.ok) errors.add(field, METADATA_MESSAGES[copy.problem]);
    return copy.ok ? copy.value : {};
  },
};

/**
 * Normalises attributes. On create every attribute gets a value (defaults per docs/contract.md); on update
 * only the keys present in `input` are returned, and a present-but-blank value means "default".
 * Every property is read once, so what is checked is what is stored; `defaulted`, when passed, receives
 * the names given blank or left out (a request's fingerprint takes a time defaulted to now as absent).
 */
export function validateAttrs(
  input: unknown,
  mode: 'create' | 'update',
  now: Date,
  defaulted?: Set<AttrName>,
): Validated<Partial<NormalisedAttrs>> {
  return guarded('attrs', () => {
    if (input !== undefined && !isRecord(input)) return { ok: false, errors: { attrs: [MESSAGES.object] } };
    const errors = new ErrorCollector();
    const out: Record<string, unknown> = {};
    for (const name of ATTR_NAMES) {
      let value: unknown;
      try {
        value = read(input, name);
        if (isBlank(value)) defaulted?.add(name);
        if (mode === 'update' && value === undefined) continue;
        out[name] = ATTR_RULES[name](value, name, errors, now);
      } catch {
        errors.add(name, MESSAGES.unreadable);
      }
    }
    return errors.isEmpty ? { ok: true, value: out as Partial<NormalisedAttrs> } : { ok: false, errors: errors.errors };
  });
}

/** The attribute names `input` gives a value to (what `changeInteraction` reports on); never throws. */
export function givenAttrNames(input: unknown): Set<AttrName> {
  const given = new Set<AttrName>();
  for (const name of ATTR_NAMES) {
    try {
      if (isRecord(input) && name in input) given.add(name);
    } catch {
      // unreadable: validateAttrs reports it
    }
  }
  return given;
}

/** The length of a list, or the error for `field` when it is not one or is longer than `max`. */
function listLength(input: unknown, field: string, max: number, notAList: string): Validated<number> {
  if (!Array.isArray(input)) return { ok: false, errors: { [field]: [notAList] } };
  const length = input.length;
  return length > max ? { ok: false, errors: { [field]: [atMostEntries(max)] } } : { ok: true, value: length };
}

/** Trims names, drops blank inputs, and checks each party's references (existence is checked later). */
export function validateParties(input: unknown): Validated<NormalisedParty[]> {
  if (input === undefined || input === null) return { ok: true, value: [] };
  return guarded('parties', () => {
    const length = listLength(input, 'parties', MAX_PARTIES, MESSAGES.list);
    if (!length.ok) return length;
    const errors = new ErrorCollector();
    const parties: NormalisedParty[] = [];
    for (let index = 0; index < length.value; index++) {
      try {
        const party = validateParty((input as unknown[])[index], index, errors);
        if (party) parties.push(party);
      } catch {
        errors.add(`parties.${index}`, MESSAGES.unreadable);
      }
    }
    return errors.isEmpty ? { ok: true, value: parties } : { ok: false, errors: errors.errors };
  });
}

/** One party; null when it is dropped (blank name) or invalid (its errors are in `errors`). */
function validateParty(item: unknown, index: number, errors: ErrorCollector): NormalisedParty | null {
  const key = `parties.${index}`;
  if (!isRecord(item)) {
    errors.add(key, MESSAGES.object);
    return null;
  }
  const given = { rawName: item.rawName, contactUuid: item.contactUuid, staffPersonUuid: item.staffPersonUuid };
  if (given.rawName !== undefined && given.rawName !== null && typeof given.rawName !== 'string') {
    errors.add(`${key}.rawName`, MESSAGES.string);
    return null;
  }
  const rawName = (given.rawName ?? '').trim();
  if (rawName === '') return null; // blank parties are dropped silently (docs/contract.md)
  const nameProblem = textProblem(rawName, MAX_TEXT_CHARACTERS, MESSAGES.max255);
  if (nameProblem) errors.add(`${key}.rawName`, nameProblem);
  const reference = (field: 'contactUuid' | 'staffPersonUuid'): string | null => {
    if (isBlank(given[field])) return null;
    const uuid = normaliseUuid(given[field]);
    if (uuid === null) errors.add(`${key}.${field}`, MESSAGES.uuid);
    return uuid;
  };
  const contactUuid = reference('contactUuid');
  const staffPersonUuid = reference('staffPersonUuid');
  if (contactUuid && staffPersonUuid) errors.add(`${key}.contactUuid`, MESSAGES.bothResolved);
  return { rawName, contactUuid, staffPersonUuid, inputIndex: index };
}

export function validateFileUuids(input: unknown): Validated<string[]> {
  if (input === undefined || input === null) return { ok: true, value: [] };
  return guarded('fileUuids', () => {
    const length = listLength(input, 'fileUuids', MAX_FILE_UUIDS, MESSAGES.uuidList);
    if (!length.ok) return length;
    const uuids: string[] = [];
    for (let index = 0; index < length.value; index++) {
      const uuid = normaliseUuid((input as unknown[])[index]);
      if (uuid === null) return { ok: false, errors: { fileUuids: [MESSAGES.uuidList] } };
      uuids.push(uuid);
    }
    return { ok: true, value: uuids };
  });
}

/**
 * A command's `opts.idempotencyKey`, read from its options as given (what reading them throws is an error
 * on `options`): absent (undefined or null) or a string of 1–200 characters (code points) the store can
 * hold. Errors are keyed `idempotencyKey`: "must be a string", "must be 1 to 200 characters", "must not
 * contain NUL or invalid characters".
 */
export function validateIdempotencyKey(options: unknown): Validated<string | undefined> {
  return guarded('options', () => idempotencyKeyOf(read(options, 'idempotencyKey')));
}

function idempotencyKeyOf(input: unknown): Validated<string | undefined> {
  if (input === undefined || input === null) return { ok: true, value: undefined };
  const problem =
    typeof input === 'string' && (input.length === 0 || codePointLength(input) > MAX_IDEMPOTENCY_KEY_CHARACTERS)
      ? MESSAGES.idempotencyKey
      : textProblem(input, MAX_IDEMPOTENCY_KEY_CHARACTERS, MESSAGES.idempotencyKey);
  return problem ? { ok: false, errors: { idempotencyKey: [problem] } } : { ok: true, value: input as string };
}

export const MAX_TRACE_ID_CHARACTERS = 200;

export interface NormalisedTrace {
  actorUuid: string | null;
  correlationId?: string;
  causationId?: string | null;
}

/**
 * The command options that end in every event's metadata: `actorUuid` a UUID (lower-cased) or absent,
 * `correlationId` / `causationId` strings of 1–200 characters the store can hold, or absent. Errors
 * are keyed by the option's name ("is not a valid UUID", "must be a string", "must be 1 to 200
 * characters", "must not contain NUL or invalid characters"); absent ones are left out of the value.
 */
export function validateTraceOptions(input: unknown): Validated<NormalisedTrace> {
  return guarded('options', () => {
    if (input !== undefined && input !== null && !isRecord(input)) return { ok: false, errors: { options: [MESSAGES.object] } };
    const errors = new ErrorCollector();
    const value: NormalisedTrace = { actorUuid: null };
    const actor = read(input, 'actorUuid');
    if (!isBlank(actor)) {
      value.actorUuid = normaliseUuid(actor);
      if (value.actorUuid === null) errors.add('actorUuid', MESSAGES.uuid);
    }
    for (const field of ['correlationId', 'causationId'] as const) {
      const given = read(input, field);
      if (given === undefined || given === null) continue;
      const tooLong = `must be 1 to ${MAX_TRACE_ID_CHARACTERS} characters`;
      const problem = given === '' ? tooLong : textProblem(given, MAX_TRACE_ID_CHARACTERS, tooLong);
      if (problem) errors.add(field, problem);
      else value[field] = given as string;
    }
    return errors.isEmpty ? { ok: true, value } : { ok: false, errors: errors.errors };
  });
}

export const MAX_PAGE_SIZE = 1000;
const integerSchema = (min: number, max: number, error: string) =>
  z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
const limitSchema = integerSchema(1, MAX_PAGE_SIZE, `must be an integer between 1 and ${MAX_PAGE_SIZE}`);
export const versionSchema = integerSchema(0, Number.MAX_SAFE_INTEGER, 'must be a non-negative integer');

/** Runs one field's schema and records its first message under `field`. */
function check<T>(schema: z.ZodType<T>, value: unknown, field: string, errors: ErrorCollector): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  errors.add(field, result.error.issues[0]?.message ?? 'is invalid');
  return undefined;
}

/** A page size: absent means no limit. */
export function validateLimit(input: unknown): Validated<number | null> {
  if (input === undefined || input === null) return { ok: true, value: null };
  const errors = new ErrorCollector();
  const value = check(limitSchema, input, 'limit', errors);
  return value === undefined ? { ok: false, errors: errors.errors } : { ok: true, value };
}

/** An update's `opts.expectedVersion`, read from its options as given. */
export function validateExpectedVersion(options: unknown): Validated<number | undefined> {
  return guarded('options', () => {
    const input = read(options, 'expectedVersion');
    if (input === undefined || input === null) return { ok: true, value: undefined };
    const errors = new ErrorCollector();
    const value = check(versionSchema, input, 'expectedVersion', errors);
    return value === undefined ? { ok: false, errors: errors.errors } : { ok: true, value };
  });
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

/** What a feed or a count is narrowed to, normalised; null is "any" (see docs/contract.md, FeedPage). */
export interface NormalisedFeedFilter {
  types: InteractionType[] | null;
  occurredFrom: Date | null;
  occurredTo: Date | null;
  ownerUserUuid: string | null;
  /** The tsquery text of the search (`searchQueryOf`); null without a search or when it holds no word. */
  search: string | null;
}

export const FEED_FILTER_NAMES = ['types', 'occurredFrom', 'occurredTo', 'ownerUserUuid', 'search'] as const;

/**
 * The filters of a FeedPage. `types: []` is a filter that nothing passes; a search of no words (only
 * spaces or punctuation) filters nothing; an `occurredTo` before `occurredFrom` is an error (equal is an
 * empty period).
 */
export function validateFeedFilter(input: Partial<Record<(typeof FEED_FILTER_NAMES)[number], unknown>>): Validated<NormalisedFeedFilter> {
  const errors = new ErrorCollector();
  const given = (value: unknown) => value !== undefined && value !== null;
  let types: InteractionType[] | null = null;
  if (given(input.types)) {
    const valid = Array.isArray(input.types) && input.types.length <= INTERACTION_TYPES.length * 4 &&
      input.types.every((t) => typeof t === 'string' && (INTERACTION_TYPES as readonly string[]).includes(t));
    if (valid) types = [...new Set(input.types as InteractionType[])];
    else errors.add('types', `must be a list of: ${INTERACTION_TYPES.join(', ')}`);
  }
  const date = (field: 'occurredFrom' | 'occurredTo') => {
    if (!given(input[field])) return null;
    const parsed = parseDate(input[field]);
    if (!parsed) errors.add(field, MESSAGES.date);
    return parsed;
  };
  const occurredFrom = date('occurredFrom');
  const occurredTo = date('occurredTo');
  if (occurredFrom && occurredTo && occurredTo < occurredFrom) errors.add('occurredTo', 'must not be before occurredFrom');
  let ownerUserUuid: string | null = null;
  if (given(input.ownerUserUuid)) {
    ownerUserUuid = normaliseUuid(input.ownerUserUuid);
    if (ownerUserUuid === null) errors.add('ownerUserUuid', MESSAGES.uuid);
  }
  let search: string | null = null;
  if (given(input.search)) {
    const problem = textProblem(input.search, MAX_SEARCH_CHARACTERS, `must be at most ${MAX_SEARCH_CHARACTERS} characters`);
    if (problem) errors.add('search', problem);
    else search = searchQueryOf(input.search as string);
  }
  if (!errors.isEmpty) return { ok: false, errors: errors.errors };
  return { ok: true, value: { types, occurredFrom, occurredTo, ownerUserUuid, search } };
}
