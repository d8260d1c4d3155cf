import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import { ERASED } from '../../domain/interaction';
import { isUuidText } from '../../domain/uuid';

/**
 * Which fields of an event are personal, and how they travel sealed. No I/O: the keys come from the
 * key store (key-store.ts), the events from the erasing event store (erasing-event-store.ts).
 *
 * A sealed record keeps its other fields in clear and gets `sealed: { key, fields, box }`: `box` is the
 * AES-256-GCM encryption of the personal fields (JSON) under the key `key`; `fields` names them, so a
 * reader whose key is gone knows what to show as erased. Events written before sealing existed hold no
 * `sealed` and read as they are.
 */

export interface Sealed {
  key: string;
  fields: string[];
  box: string;
}

/** A key as the store holds it: its id goes into every box it seals. */
export interface ErasureKey {
  keyId: string;
  key: Buffer;
}

type Json = Record<string, unknown>;

/** The one key of an interaction's own content: subject, body, metadata. */
export const CONTENT_TAG = 'content';

/**
 * The key of one party of an interaction, by its rawName: every event that holds the party (a later
 * PartiesRebuilt, a PartyLinked) seals it with the same key, so forgetting the contact it was ever
 * linked to erases all of them. Hashed with the interaction, so tags say nothing across interactions.
 */
export function partyTag(interactionUuid: string, rawName: string): string {
  return `party:${createHash('sha256').update(`${interactionUuid.toLowerCase()}\u0000${rawName}`).digest('base64url')}`;
}

/** The tags of one interaction's parties by rawName: `partyTag`, each hashed once (an append asks up to three times). */
export type PartyTags = (rawName: string) => string;

export function partyTagsOf(interactionUuid: string): PartyTags {
  const tags = new Map<string, string>();
  return (rawName) => {
    let tag = tags.get(rawName);
    if (tag === undefined) tags.set(rawName, (tag = partyTag(interactionUuid, rawName)));
    return tag;
  };
}

const CONTENT_FIELDS = ['subject', 'body', 'metadata'] as const;

/** An interaction's content as erasure leaves it. */
const ERASED_CONTENT: Json = { subject: ERASED, body: ERASED, metadata: {} };

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Random bytes from the operating system's CSPRNG, fetched 4 kB at a time (one call instead of one per
 * key and per IV; a create needs about ten). Every byte is handed out once, as a copy.
 */
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;
function randomBytes(size: number): Buffer {
  if (randomOffset + size > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const bytes = Buffer.from(randomPool.subarray(randomOffset, randomOffset + size));
  randomOffset += size;
  return bytes;
}

function encrypt(key: ErasureKey, plain: Json): Sealed['box'] {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  // The key id is authenticated with the box: a box cannot be passed off as another key's.
  cipher.setAAD(Buffer.from(key.keyId));
  const body = cipher.update(JSON.stringify(plain), 'utf8');
  const last = cipher.final();
  return Buffer.concat([iv, body, last, cipher.getAuthTag()]).toString('base64');
}

/** The box opened, or null when it does not open (tampered, or not a box of this key). */
function decrypt(key: ErasureKey, box: string): Json | null {
  try {
    const bytes = Buffer.from(box, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key.key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(key.keyId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    const parsed: unknown = JSON.parse(plain.toString('utf8'));
    return isRecord(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A box as the module seals it; anything else stays as it is, for the event's check to refuse (parked). */
function isSealed(value: unknown): value is Sealed {
  return (
    isRecord(value) &&
    // Its key id is looked up as a uuid: one PostgreSQL refuses would fail the whole batch's key fetch.
    typeof value.key === 'string' &&
    isUuidText(value.key) &&
    typeof value.box === 'string' &&
    Array.isArray(value.fields) &&
    value.fields.every((field) => typeof field === 'string')
  );
}

/**
 * `record` with `fields` (those present and not null) moved into a box; as it is when none is. A null
 * stays in clear: it says nothing of anyone, and erased it must still read null, not "[erased]".
 */
function sealFields(record: Json, fields: readonly string[], key: () => ErasureKey, erasedWhen?: (plain: Json) => boolean): Json {
  const plain: Json = {};
  const rest: Json = {};
  const present: string[] = [];
  for (const name of Object.keys(record)) {
    if (fields.includes(name) && record[name] !== null) {
      plain[name] = record[name];
      present.push(name);
    } else rest[name] = record[name];
  }
  if (present.length === 0 || erasedWhen?.(plain)) return record;
  const sealing = key();
  rest.sealed = { key: sealing.keyId, fields: present, box: encrypt(sealing, plain) };
  return rest;
}

/**
 * The record with its box opened: the fields back in place, or their erased values when the key is
 * gone. A box that does not open with a key that is there is left sealed: the event then fails its
 * schema and is reported (parked, unreadable) like any event the module cannot read.
 */
function openFields(record: Json, keys: ReadonlyMap<string, ErasureKey>, erased: Json): Json {
  const { sealed, ...rest } = record;
  if (!isSealed(sealed)) return record;
  const key = keys.get(sealed.key);
  if (key) {
    const plain = decrypt(key, sealed.box);
    return plain ? { ...rest, ...plain } : record;
  }
  return { ...rest, ...Object.fromEntries(sealed.fields.map((field) => [field, erased[field] ?? ERASED])) };
}

// --- Parties: rawName and the snapshot (all but its capture time) are personal.

const isErasedParty = (plain: Json) => plain.rawName === ERASED && (plain.snapshot as Json | undefined)?.source === 'erased';

const PARTY_FIELDS = ['rawName', 'snapshot'];

function sealParty(party: Json, key: () => ErasureKey): Json {
  const { snapshot } = party;
  if (!isRecord(snapshot) || isErasedParty(party)) return party;
  const { capturedAt, ...person } = snapshot;
  return sealFields({ ...party, snapshot: person, capturedAt }, PARTY_FIELDS, key);
}

function openParty(party: Json, keys: ReadonlyMap<string, ErasureKey>): Json {
  if (!isSealed(party.sealed)) return party;
  const { capturedAt, ...opened } = openFields(party, keys, { rawName: ERASED, snapshot: { source: 'erased' } });
  if ('sealed' in opened) return party;
  return { ...opened, snapshot: { ...(opened.snapshot as Json), capturedAt } };
}

function sealSnapshot(data: Json, key: () => ErasureKey): Json {
  const { snapshot, ...rest } = data;
  if (!isRecord(snapshot) || snapshot.source === 'erased') return data;
  const { capturedAt, ...person } = snapshot;
  return sealFields({ ...rest, snapshot: person, capturedAt }, ['snapshot'], key);
}

function openSnapshot(data: Json, keys: ReadonlyMap<string, ErasureKey>): Json {
  if (!isSealed(data.sealed)) return data;
  const { capturedAt, ...opened } = openFields(data, keys, { snapshot: { source: 'erased' } });
  if ('sealed' in opened) return data;
  return { ...opened, snapshot: { ...(opened.snapshot as Json), capturedAt } };
}

// --- Events

/** What sealing an event needs: the key of the content and of each party, by tag. */
export interface SealingKeys {
  keyOf(tag: string): ErasureKey;
}

/** The tags an event needs keys for (`rawNameAt` gives a PartyLinked its party's rawName). */
export function tagsOf(type: string, data: Json, partyTags: PartyTags, rawNameAt: (position: number) => string | null): string[] {
  switch (type) {
    case 'InteractionLogged':
      return [CONTENT_TAG];
    case 'InteractionUpdated':
      return isRecord(data.changes) && CONTENT_FIELDS.some((field) => field in (data.changes as Json)) ? [CONTENT_TAG] : [];
    case 'PartiesRebuilt':
      return partiesOf(data)
        .filter((party) => !isErasedParty({ rawName: party.rawName, snapshot: party.snapshot }))
        .map((party) => partyTags(String(party.rawName)));
    case 'PartyLinked': {
      const rawName = rawNameAt(Number(data.position));
      return rawName === null ? [] : [partyTags(rawName)];
    }
    default:
      return [];
  }
}

function partiesOf(data: Json): Json[] {
  return Array.isArray(data.parties) ? data.parties.filter(isRecord) : [];
}

/** The event's data as stored: personal fields sealed. Types without personal fields pass as they are. */
export function sealEvent(
  type: string,
  data: Json,
  partyTags: PartyTags,
  keys: SealingKeys,
  rawNameAt: (position: number) => string | null,
): Json {
  switch (type) {
    case 'InteractionLogged':
      return sealFields(data, CONTENT_FIELDS, () => keys.keyOf(CONTENT_TAG), isEmptyContent);
    case 'InteractionUpdated':
      if (!isRecord(data.changes)) return data;
      return { ...data, changes: sealFields(data.changes, CONTENT_FIELDS, () => keys.keyOf(CONTENT_TAG), isEmptyContent) };
    case 'PartiesRebuilt':
      return {
        ...data,
        parties: partiesOf(data).map((party) => sealParty(party, () => keys.keyOf(partyTags(String(party.rawName))))),
      };
    case 'PartyLinked': {
      const rawName = rawNameAt(Number(data.position));
      return rawName === null ? data : sealSnapshot(data, () => keys.keyOf(partyTags(rawName)));
    }
    default:
      return data;
  }
}

/** Nothing personal to seal: no subject, no body, empty metadata. */
function isEmptyContent(plain: Json): boolean {
  return CONTENT_FIELDS.every((field) => {
    const value = plain[field];
    return value === undefined || value === null || (isRecord(value) && Object.keys(value).length === 0);
  });
}

/** The key ids an event's boxes were sealed with. */
export function keyIdsOf(data: unknown): string[] {
  if (!isRecord(data)) return [];
  const ids: string[] = [];
  for (const record of [data, data.changes, ...(Array.isArray(data.parties) ? data.parties : [])]) {
    if (isRecord(record) && isSealed(record.sealed)) ids.push(record.sealed.key);
  }
  return ids;
}

/** The event's data with every box opened, or erased where its key is gone. */
export function openEvent(type: string, data: unknown, keys: ReadonlyMap<string, ErasureKey>): unknown {
  if (!isRecord(data)) return data;
  switch (type) {
    case 'InteractionLogged':
      return openFields(data, keys, ERASED_CONTENT);
    case 'InteractionUpdated':
      return isRecord(data.changes) ? { ...data, changes: openFields(data.changes, keys, ERASED_CONTENT) } : data;
    case 'PartiesRebuilt':
      return Array.isArray(data.parties) ? { ...data, parties: data.parties.map((p: unknown) => (isRecord(p) ? openParty(p, keys) : p)) } : data;
    case 'PartyLinked':
      return openSnapshot(data, keys);
    default:
      return data;
  }
}

export function newKeyMaterial(): Buffer {
  return randomBytes(KEY_BYTES);
}
