import type { RecordData } from './remoteBackend.js';

/**
 * The JSON text of record data that the core has already encoded. A validated write is encoded
 * once (to normalise it into plain JSON); adapters that store JSON ask `recordJson` instead of
 * encoding the same object again for its document and its outbox entry.
 *
 * The text rides on the decoded copy under a non-enumerable symbol (invisible to JSON, spread,
 * structured clone and equality checks; a WeakMap cost the garbage collector more). Only copies the
 * core made itself carry it, and the core never changes a record's data in place, so the text
 * always matches its object. A flat record the schema made anew is not copied and carries no text:
 * `recordJson` encodes it.
 */
const JSON_TEXT = Symbol('nexus-store.json');

/** Marks a value `plainCopy` cannot copy the way JSON would. */
const NOT_PLAIN = Symbol('not plain');

/** A value JSON keeps as it is: a string, a boolean, null, or a finite number other than -0. */
function isExactScalar(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    default:
      return value === null;
  }
}

/** An object JSON encodes field by field: of Object.prototype or of no prototype. */
function hasPlainPrototype(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A key that JSON (`toJSON`) or a copy (`__proto__`) would not treat as a plain field. */
const isSpecialKey = (key: string) => key === '__proto__' || key === 'toJSON';

/**
 * A copy of `value` equal to `JSON.parse(JSON.stringify(value))` when the value holds only what
 * JSON keeps as it is (exact scalars, arrays without holes or undefined, and objects of
 * Object.prototype or null prototype without toJSON or `__proto__` keys); NOT_PLAIN otherwise.
 * Several times cheaper than decoding the text again.
 */
function plainCopy(value: unknown): unknown {
  if (isExactScalar(value)) return value;
  if (typeof value !== 'object' || value === null) return NOT_PLAIN;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = plainCopy(value[i]);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[i] = item;
    }
    return copy;
  }
  if (!hasPlainPrototype(value)) return NOT_PLAIN;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (isSpecialKey(key)) return NOT_PLAIN;
    const item = plainCopy((value as Record<string, unknown>)[key]);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = item;
  }
  return copy;
}

/**
 * True when `value` is an extensible plain object (see plainCopy) whose fields are all exact
 * scalars: JSON keeps it exactly, and it holds no object of anyone.
 */
function isFlatPlain(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.isExtensible(value) || !hasPlainPrototype(value)) return false;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key) || isSpecialKey(key) || !isExactScalar((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/**
 * Data equal to the JSON decoding of `value`: a copy that remembers its text for `recordJson`,
 * except for a flat record the schema made anew (not the caller's `source` object itself), which
 * shares nothing with the caller and is returned as it is (no copy, no text: a fifth of the core's
 * time in a bulk write).
 */
export function normalizeRecord(value: unknown, source?: unknown): RecordData {
  // Nothing to encode or remember here: JSON keeps such a record exactly, and its text is made where
  // it is stored, so it does not live as long as the record (the garbage collector copied it along
  // with every record of a bulk write).
  if (source !== undefined && value !== source && isFlatPlain(value)) return value as RecordData;
  const json = JSON.stringify(value);
  const copy = plainCopy(value);
  const data = (copy === NOT_PLAIN ? JSON.parse(json) : copy) as RecordData;
  Object.defineProperty(data, JSON_TEXT, { value: json });
  return data;
}

/** The JSON text of `data`: remembered when the core encoded this object, computed otherwise. */
export function recordJson(data: RecordData): string {
  return (data as { [JSON_TEXT]?: string })[JSON_TEXT] ?? JSON.stringify(data);
}
