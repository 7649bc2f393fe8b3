import type { NewOutboxEntry, StoredDoc } from '@nexus-store/core';
import { makeDoc, makeEntry } from '@nexus-store/core/testing';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { idbStorage } from '@nexus-store/idb';
import type { IdbStorage, IdbStorageOptions } from '@nexus-store/idb';

/** A fresh, empty fake-indexeddb factory per test. */
export function freshFactory(): IDBFactory {
  return new IDBFactory();
}

export function fakeStorage(indexedDB: IDBFactory, options: Partial<IdbStorageOptions> = {}): IdbStorage {
  return idbStorage({ name: 'app', indexedDB, IDBKeyRange, ...options });
}

export function doc(key: string, data: Record<string, unknown> | null, collection = 'items'): StoredDoc {
  return makeDoc(collection, key, data, { hlc: 'h' });
}

export function entry(key: string, overrides: Partial<NewOutboxEntry> = {}): NewOutboxEntry {
  return makeEntry(key, 'normal', { mutationId: `m-${key}`, hlc: 'h', ...overrides });
}

/** Opens a raw IndexedDB connection (another tab, an old app version) and resolves once it is open. */
export function rawOpen(factory: IDBFactory, name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = version === undefined ? factory.open(name) : factory.open(name, version);
    request.onupgradeneeded = () => upgrade?.(request.result);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
