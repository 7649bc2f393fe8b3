import type { RecordData } from './remoteBackend.js';

/**
 * The JSON text of record data that the core has already encoded. A validated write is encoded
 * once (to normalise it into plain JSON); adapters that store JSON ask `recordJson` instead of
 * encoding the same object again for its document and its outbox entry.
 *
 * Only objects the core created itself are registered, and the core never changes a record's data
 * in place, so a registered text always matches its object. Objects are held weakly.
 */
const known = new WeakMap<object, string>();

/** Encodes `value` as JSON and returns the decoded copy, remembering its text for `recordJson`. */
export function normalizeRecord(value: unknown): RecordData {
  const json = JSON.stringify(value);
  const data = JSON.parse(json) as RecordData;
  known.set(data, json);
  return data;
}

/** The JSON text of `data`: remembered when the core encoded this object, computed otherwise. */
export function recordJson(data: RecordData): string {
  return known.get(data) ?? JSON.stringify(data);
}
