import type { ServerRecord } from '@nexus-store/core';

/** The record columns both server stores select, in this order. */
export const RECORD_COLUMNS = 'collection, key, version, deleted, data, hlc, field_clocks, client_id';

/** The columns of a record row that both databases return alike (version and deleted differ in type). */
export interface RecordRowColumns {
  collection: string;
  key: string;
  data: string | null;
  hlc: string;
  field_clocks: string | null;
  client_id: string | null;
}

/** A stored record row as the protocol's ServerRecord. */
export function recordFromRow(row: RecordRowColumns, version: number, deleted: boolean): ServerRecord {
  return {
    collection: row.collection,
    key: row.key,
    version,
    deleted,
    data: row.data === null ? null : (JSON.parse(row.data) as ServerRecord['data']),
    hlc: row.hlc,
    fieldClocks: row.field_clocks === null ? null : (JSON.parse(row.field_clocks) as ServerRecord['fieldClocks']),
    clientId: row.client_id,
  };
}
