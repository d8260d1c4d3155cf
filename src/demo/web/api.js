// The demo host's HTTP API, as the page uses it: JSON in and out, errors as ApiError.

/** A non-2xx answer: `status`, and the JSON body (`{ errors }` on a 422). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * A random (v4) uuid. `crypto.randomUUID` exists only in a secure context (https, localhost): a page opened
 * over plain http on another host makes one of `getRandomValues`, which exists everywhere.
 */
function randomUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // the RFC 9562 variant
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Who acts, recorded in each event's metadata (`x-actor-uuid`): one made-up uuid per browser. */
function actorUuid() {
  try {
    let uuid = localStorage.getItem('crm-demo-actor');
    if (!uuid) localStorage.setItem('crm-demo-actor', (uuid = randomUuid()));
    return uuid;
  } catch {
    return null; // storage refused (private mode): the events carry no actor
  }
}
export const ACTOR = actorUuid();

/**
 * One request; the answer's JSON (null when empty). Paths are relative, so the page also works under a prefix.
 * `idempotencyKey`: a repeat of the request with it gets the first one's answer instead of acting again.
 */
export async function api(method, path, body, { idempotencyKey } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (ACTOR && method !== 'GET') headers['x-actor-uuid'] = ACTOR;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** No answer came, or one that says the write may have been made: the request may have acted. */
export const outcomeUnknown = (error) => !(error instanceof ApiError) || (error.status === 503 && error.body?.committed !== false);

const pendingKeys = new Map(); // a request (method, path, body) → its idempotency key, until it is answered

/**
 * A command whose idempotency key stays the same for the same request until the host answers it: a retry
 * after a lost answer repeats it (the host answers the first result) instead of acting a second time or
 * failing as "not found" or "changed by someone else". Once answered, the same request again is a new one.
 */
export async function command(method, path, body) {
  const request = JSON.stringify([method, path, body]);
  if (!pendingKeys.has(request)) pendingKeys.set(request, randomUuid());
  try {
    const answer = await api(method, path, body, { idempotencyKey: pendingKeys.get(request) });
    pendingKeys.delete(request);
    return answer;
  } catch (error) {
    if (!outcomeUnknown(error)) pendingKeys.delete(request);
    throw error;
  }
}

/** Why a command failed, for a notice: a lost answer says that trying again is safe. */
export const failureOf = (error) => (outcomeUnknown(error) ? 'the answer was lost: it may have been done; trying again is safe' : error.message);

/** What went wrong, for a status line: a 422's messages by field, else the error's message. */
export function problemOf(error) {
  const errors = error instanceof ApiError ? error.body?.errors : null;
  if (!errors) return error.message;
  return Object.entries(errors)
    .map(([field, messages]) => `${field} ${messages.join('; ')}`)
    .join(', ');
}

/** A query string of the given entries, leaving out undefined ones. */
export function query(entries) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(entries)) if (value !== undefined) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** What a contact is called: the rule the module's snapshots use, so the two compare fairly. */
export function contactName(contact) {
  return contact?.name?.trim() || contact?.email?.trim() || 'Unnamed';
}
