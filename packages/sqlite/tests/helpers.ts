import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NewOutboxEntry, RecordData, StoredDoc } from '@nexus-store/core';
import { makeDoc, makeEntry } from '@nexus-store/core/testing';

/** A fresh folder under the OS temp dir; `cleanup()` removes it. */
export function tempFolder(): { dir: string; file: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-sqlite-'));
  return { dir, file: (name = 'test.db') => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function doc(collection: string, key: string, data: RecordData | null, overrides: Partial<StoredDoc> = {}): StoredDoc {
  return makeDoc(collection, key, data, { hlc: '0000000000001:0000:client', ...overrides });
}

export function outboxEntry(collection: string, key: string, data: RecordData | null, overrides: Partial<NewOutboxEntry> = {}): NewOutboxEntry {
  return makeEntry(key, 'normal', { collection, op: data === null ? 'delete' : 'upsert', data, hlc: '0000000000001:0000:client', mutationId: `m-${collection}-${key}-${Math.random().toString(36).slice(2)}`, ...overrides });
}
