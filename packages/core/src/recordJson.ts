import type { RecordData } from './remoteBackend.js';

/**
 * The JSON text of record data that the core has already encoded. A validated write is encoded
 * once (to normalise it into plain JSON); adapters that store JSON ask `recordJson` instead of
 * encoding the same object again for its document and its outbox entry.
 *
 * The text rides on the decoded copy under a non-enumerable symbol (invisible to JSON, spread,
 * structured clone and equality checks; a WeakMap cost the garbage collector more). Only objects
 * the core created itself carry it, and the core never changes a record's data in place, so the
 * text always matches its object.
 */
const JSON_TEXT = Symbol('nexus-store.json');

/** Marks a value `plainCopy` cannot copy the way JSON would. */
const NOT_PLAIN = Symbol('not plain');

/**
 * A copy of `value` equal to `JSON.parse(JSON.stringify(value))` when the value holds only what
 * JSON keeps as it is (strings, finite numbers other than -0, booleans, null, arrays without holes
 * or undefined, and objects of Object.prototype or null prototype without toJSON or `__proto__`
 * keys); NOT_PLAIN otherwise. Several times cheaper than decoding the text again.
 */
function plainCopy(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const copy: unknown[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          const item = plainCopy(value[i]);
          if (item === NOT_PLAIN) return NOT_PLAIN;
          copy[i] = item;
        }
        return copy;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (key === '__proto__' || key === 'toJSON') return NOT_PLAIN;
        const item = plainCopy((value as Record<string, unknown>)[key]);
        if (item === NOT_PLAIN) return NOT_PLAIN;
        copy[key] = item;
      }
      return copy;
    }
    default:
      return NOT_PLAIN;
  }
}

/** Encodes `value` as JSON and returns the decoded copy, remembering its text for `recordJson`. */
export function normalizeRecord(value: unknown): RecordData {
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
