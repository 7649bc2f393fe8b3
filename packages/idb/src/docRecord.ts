import { fieldValue } from '@nexus-store/core';
import type { Comparable, StoredDoc } from '@nexus-store/core';

/** A comparable value as an IndexedDB key pair whose key order equals `compareValues` order. */
export type EncodedValue = [typeRank: number, value: number | string];

/** One entry of the `fields` index: `[collection, field, typeRank, value, key]`. */
export type FieldEntry = [string, string, number, number | string, string];

/** A document as stored in the `docs` store. */
export interface DocRecord extends StoredDoc {
  /** `[collection, key]` while the document is live; absent for tombstones (keeps them out of the `live` index). */
  $l?: [string, string];
  /** Index entries for the collection's declared fields; empty for tombstones. */
  $x: FieldEntry[];
}

/**
 * Encodes a comparable so that IndexedDB key order matches `compareValues`: null < numbers (booleans
 * as 0/1) < strings. IndexedDB keys cannot be null or booleans, hence the leading type rank.
 * Returns undefined for what is not a key (NaN, or anything that is not a comparable).
 */
export function encodeValue(value: unknown): EncodedValue | undefined {
  if (value === null) return [0, 0];
  if (typeof value === 'boolean') return [1, value ? 1 : 0];
  if (typeof value === 'number') return Number.isNaN(value) ? undefined : [1, value];
  if (typeof value === 'string') return [2, value];
  return undefined;
}

export function toDocRecord(doc: StoredDoc, fields: Iterable<string>): DocRecord {
  const record: DocRecord = { ...doc, $x: [] };
  delete record.$l;
  if (doc.deleted) return record;
  record.$l = [doc.collection, doc.key];
  for (const field of fields) {
    const encoded = encodeValue(fieldValue(doc.data, field) as Comparable);
    // NaN has no place in a key order; such a document is found by scans only (see README).
    if (encoded) record.$x.push([doc.collection, field, encoded[0], encoded[1], doc.key]);
  }
  return record;
}

export function fromDocRecord(record: DocRecord): StoredDoc {
  const { $l: _live, $x: _entries, ...doc } = record;
  return doc;
}

/** The record's key in the `fields` index for one field, if it has one. */
export function fieldEntryOf(record: DocRecord, field: string): FieldEntry | undefined {
  return record.$x.find((entry) => entry[1] === field);
}
