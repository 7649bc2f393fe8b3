import { runStorageConformance } from '@nexus-store/core/testing';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { idbStorage } from '@nexus-store/idb';

// Each harness is a fresh fake-indexeddb factory, so every case starts from an empty database.
await runStorageConformance('idbStorage (fake-indexeddb)', () => {
  const indexedDB = new IDBFactory();
  return { create: () => idbStorage({ name: 'conformance', indexedDB, IDBKeyRange }) };
});
