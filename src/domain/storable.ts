import { JsonObject } from './interaction';

/**
 * What the stores can hold and give back unchanged: PostgreSQL text and jsonb refuse U+0000 and
 * unpaired surrogates (or silently replace them), timestamps are kept for years 0001–9999, and jsonb
 * holds plain JSON only. Shared by input validation and the event schemas, so both draw the same line.
 */

export const MAX_METADATA_DEPTH = 32;
export const MAX_METADATA_BYTES = 65_536;

/** One character the stores cannot hold: U+0000, or a surrogate without its pair. */
export const UNSTORABLE_CHARACTER = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_CHARACTERS = new RegExp(UNSTORABLE_CHARACTER.source, 'g');
/**
 * A whole text without such a character, as one pattern: where a zod schema becomes JSON Schema (the demo's
 * OpenAPI document), a `.regex` is kept as its `pattern` and a `.refine` is lost.
 */
export const STORABLE_TEXT = new RegExp(`^(?![\\s\\S]*(?:${UNSTORABLE_CHARACTER.source}))`);

export function isStorableString(value: string): boolean {
  return !UNSTORABLE_CHARACTER.test(value);
}

/** The text with each character the stores cannot hold replaced by U+FFFD (for describing foreign data). */
export function toStorableString(value: string): string {
  return value.replace(UNSTORABLE_CHARACTERS, '\uFFFD');
}

/** A real Date (not a look-alike) in the years 0001–9999 UTC. */
export function isStorableDate(value: unknown): value is Date {
  if (!(value instanceof Date)) return false;
  let time: number;
  try {
    time = Date.prototype.getTime.call(value);
  } catch {
    return false; // a look-alike: Object.create(Date.prototype)
  }
  if (Number.isNaN(time)) return false;
  const year = new Date(time).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** Code points, counted without building an array (bodies may hold a million of them). */
export function codePointLength(value: string): number {
  let pairs = 0;
  for (let i = 0; i < value.length - 1; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs++;
        i++;
      }
    }
  }
  return value.length - pairs;
}

export type JsonProblem = 'not_object' | 'not_plain_json' | 'invalid_characters' | 'too_deep' | 'too_large' | 'cycle';

/**
 * Whether the stores can hold `value` as JSON and give it back unchanged: plain objects and arrays,
 * storable strings (keys too), finite numbers, booleans, null. No depth or size caps (those are input
 * rules; events stored before them must stay readable) and no recursion, so any depth is safe.
 */
export function isStorableJson(value: unknown): boolean {
  const pending: unknown[] = [value];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const item = pending.pop();
    if (item === null || typeof item === 'boolean') continue;
    if (typeof item === 'number' && Number.isFinite(item)) continue;
    if (typeof item === 'string' && isStorableString(item)) continue;
    if (typeof item !== 'object') return false;
    if (seen.has(item)) continue; // JSON data shares nothing; this only keeps a cycle from looping
    seen.add(item);
    if (Array.isArray(item)) {
      if (!isPlainArray(item)) return false;
      for (let index = 0; index < item.length; index++) pending.push(item[index]);
      continue;
    }
    if (!isPlainObject(item) || typeof item.toJSON === 'function') return false;
    for (const key of Object.keys(item)) {
      if (!isStorableString(key)) return false;
      pending.push(item[key]);
    }
  }
  return true;
}

class JsonRejected extends Error {
  constructor(readonly problem: JsonProblem) {
    super(problem);
  }
}

/**
 * Copies a plain JSON object, reading every property once (a getter cannot change its answer between
 * the check and the write), or names the first problem. Recursion stops at MAX_METADATA_DEPTH, so
 * 5,000 levels cost 33 frames; the size is counted while walking, so a huge input stops early.
 * Anything that throws while being read (getters, Proxy traps) is left to the caller to catch.
 */
export function copyJsonObject(value: unknown): { ok: true; value: JsonObject } | { ok: false; problem: JsonProblem } {
  if (!isPlainObject(value)) return { ok: false, problem: 'not_object' };
  const walk = new JsonWalk();
  try {
    const copy = walk.object(value, 1);
    if (Buffer.byteLength(JSON.stringify(copy)) > MAX_METADATA_BYTES) return { ok: false, problem: 'too_large' };
    return { ok: true, value: copy };
  } catch (error) {
    if (error instanceof JsonRejected) return { ok: false, problem: error.problem };
    throw error;
  }
}

/** Object.prototype of this or another realm (vm contexts, structuredClone in tests): it has no prototype. */
const isRootPrototype = (prototype: unknown): boolean => prototype !== null && Object.getPrototypeOf(prototype) === null;

/** An object whose prototype is Object.prototype or null: no class instance (Date, Map, Buffer …). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || isRootPrototype(prototype);
}

/** An array that is an Array and nothing more (no subclass), of any realm. */
function isPlainArray(value: unknown[]): boolean {
  return isRootPrototype(Object.getPrototypeOf(Object.getPrototypeOf(value)));
}

class JsonWalk {
  /** A lower bound of the JSON size so far: escapes only add to it. */
  private bytes = 0;
  private readonly path = new Set<object>();

  private count(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > MAX_METADATA_BYTES) throw new JsonRejected('too_large');
  }

  private value(value: unknown, depth: number): unknown {
    if (value === null || typeof value === 'boolean') {
      this.count(4); // null, true (false is 5: a lower bound is enough)
      return value;
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new JsonRejected('not_plain_json');
      this.count(String(value).length);
      return value === 0 ? 0 : value; // -0 would come back as 0
    }
    if (typeof value === 'string') return this.string(value);
    if (typeof value !== 'object') throw new JsonRejected('not_plain_json'); // bigint, function, symbol, undefined
    if (Array.isArray(value)) return this.array(value, depth);
    if (!isPlainObject(value)) throw new JsonRejected('not_plain_json');
    return this.object(value, depth);
  }

  private string(value: string): string {
    if (!isStorableString(value)) throw new JsonRejected('invalid_characters');
    this.count(Buffer.byteLength(value) + 2);
    return value;
  }

  private enter(value: object, depth: number): void {
    if (this.path.has(value)) throw new JsonRejected('cycle');
    if (depth > MAX_METADATA_DEPTH) throw new JsonRejected('too_deep');
    this.path.add(value);
  }

  private array(value: unknown[], depth: number): unknown[] {
    if (!isPlainArray(value)) throw new JsonRejected('not_plain_json');
    this.enter(value, depth);
    const copy: unknown[] = [];
    this.count(2);
    const length = value.length;
    for (let index = 0; index < length; index++) {
      if (index > 0) this.count(1); // the comma
      copy.push(this.value(value[index], depth + 1)); // a hole reads undefined: rejected
    }
    this.path.delete(value);
    return copy;
  }

  object(value: Record<string, unknown>, depth: number): JsonObject {
    // A toJSON method (also an inherited one) would make JSON say something else than the value. A
    // "toJSON" key holding data is data: stored events may have one, and must stay readable.
    if (typeof value.toJSON === 'function') throw new JsonRejected('not_plain_json');
    this.enter(value, depth);
    if (Object.getOwnPropertySymbols(value).length > 0) throw new JsonRejected('not_plain_json');
    const copy: JsonObject = {};
    this.count(2);
    let separator = 1; // the colon; and a comma before every key but the first
    for (const key of Object.keys(value)) {
      // "__proto__" cannot be an own key of the copy, nor of what the event schema parses back.
      if (key === '__proto__') throw new JsonRejected('not_plain_json');
      this.string(key);
      this.count(separator);
      separator = 2;
      copy[key] = this.value(value[key], depth + 1);
    }
    this.path.delete(value);
    return copy;
  }
}
