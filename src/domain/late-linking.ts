import { ErrorCollector } from './errors';
import { emailKey, partyNameKey } from './party-keys';
import { isStorableString } from './storable';
import { MESSAGES, normaliseUuid, Validated } from './validation';

/** Input checks of late linking (`linkParty`, `findUnresolvedParties`): pure, field-keyed messages. */

export const LINK_MESSAGES = {
  position: 'must be a non-negative integer',
  ref: 'must have a contactUuid or a staffPersonUuid',
  nameOrEmail: 'or email is required',
  email: 'must be an email address',
  blank: 'must not be blank',
} as const;

/** How many unresolved parties `findUnresolvedParties` returns without a `limit`. */
export const DEFAULT_UNRESOLVED_LIMIT = 50;

export interface LinkRef {
  contactUuid: string | null;
  staffPersonUuid: string | null;
}

export function validatePosition(input: unknown): Validated<number> {
  return Number.isSafeInteger(input) && (input as number) >= 0
    ? { ok: true, value: input as number }
    : { ok: false, errors: { position: [LINK_MESSAGES.position] } };
}

/** `{ contactUuid }` or `{ staffPersonUuid }`: exactly one, a UUID (lower-cased); blank counts as absent. */
export function validateLinkRef(input: unknown): Validated<LinkRef> {
  const fields = readFields(input, 'ref', ['contactUuid', 'staffPersonUuid']);
  if (!fields.ok) return fields;
  const errors = new ErrorCollector();
  const link = (field: 'contactUuid' | 'staffPersonUuid'): string | null => {
    const value = fields.value[field];
    if (value === undefined || value === null || value === '') return null;
    const uuid = normaliseUuid(value);
    if (!uuid) errors.add(field, MESSAGES.uuid);
    return uuid;
  };
  const value = { contactUuid: link('contactUuid'), staffPersonUuid: link('staffPersonUuid') };
  if (errors.isEmpty && value.contactUuid && value.staffPersonUuid) errors.add('contactUuid', MESSAGES.bothResolved);
  if (errors.isEmpty && !value.contactUuid && !value.staffPersonUuid) errors.add('ref', LINK_MESSAGES.ref);
  return errors.isEmpty ? { ok: true, value } : { ok: false, errors: errors.errors };
}

/** What `findUnresolvedParties` looks up: the name's key and/or the email's, at least one of them. */
export interface UnresolvedFilter {
  nameKey: string | null;
  emailKey: string | null;
}

export function validateUnresolvedFilter(input: unknown): Validated<UnresolvedFilter> {
  const fields = readFields(input, 'filter', ['name', 'email']);
  if (!fields.ok) return fields;
  const errors = new ErrorCollector();
  const text = (field: 'name' | 'email'): string | null => {
    const value = fields.value[field];
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string') errors.add(field, MESSAGES.string);
    else if (!isStorableString(value)) errors.add(field, MESSAGES.invalidCharacters);
    else return value;
    return null;
  };
  const name = text('name');
  const email = text('email');
  const nameKey = name === null ? null : partyNameKey(name);
  if (nameKey === '') errors.add('name', LINK_MESSAGES.blank);
  const key = email === null ? null : emailKey(email);
  if (email !== null && key === null) errors.add('email', LINK_MESSAGES.email);
  if (errors.isEmpty && nameKey === null && key === null) errors.add('name', LINK_MESSAGES.nameOrEmail);
  return errors.isEmpty ? { ok: true, value: { nameKey, emailKey: key } } : { ok: false, errors: errors.errors };
}

/** The named fields of an options-like object; anything but an object (or a throwing getter) is an error on `field`. */
function readFields<K extends string>(input: unknown, field: string, keys: readonly K[]): Validated<Partial<Record<K, unknown>>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, errors: { [field]: [MESSAGES.object] } };
  try {
    return { ok: true, value: Object.fromEntries(keys.map((key) => [key, (input as Record<string, unknown>)[key]])) as Partial<Record<K, unknown>> };
  } catch {
    return { ok: false, errors: { [field]: [MESSAGES.unreadable] } };
  }
}
