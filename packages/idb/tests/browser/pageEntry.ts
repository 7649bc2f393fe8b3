/**
 * The test page's script, bundled by esbuild for headless Chromium (see ../chromium.test.ts): the
 * storage conformance cases over real IndexedDB, and helpers for the several-tabs tests.
 */
import { createNexus } from '@nexus-store/core';
import type { DocChangeRef, Nexus, Store } from '@nexus-store/core';
import { storageConformanceCases } from '@nexus-store/core/testing';
import { httpRemote } from '@nexus-store/http';
import { idbStorage } from '@nexus-store/idb';
import type { IdbStorage } from '@nexus-store/idb';
import { ContactSchema, type Contact } from './contact.js';

export interface CaseResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface LockReport {
  /** [start, end] of every critical section, in ms since the epoch (sub-millisecond precision). */
  intervals: [number, number][];
  /** Times this tab found another tab's mark inside its own critical section. */
  violations: number;
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

const now = () => performance.timeOrigin + performance.now();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let databases = 0;
const cases = storageConformanceCases(() => {
  const name = `conformance-${now()}-${databases++}`;
  return { create: () => idbStorage({ name }), cleanup: () => deleteDatabase(name) };
});

let shared: IdbStorage | undefined;
let nexus: Nexus | undefined;
let contacts: Store<Contact, string> | undefined;
const watched: (Contact | undefined)[] = [];
const watchWaiters: (() => void)[] = [];
const received: DocChangeRef[] = [];
const waiters: (() => void)[] = [];
const lockState = { requested: false, granted: false };

const api = {
  caseNames: (): string[] => cases.map((c) => c.name),

  async runCase(name: string): Promise<CaseResult> {
    const found = cases.find((c) => c.name === name);
    if (!found) return { ok: false, ms: 0, error: `no case named ${name}` };
    const start = performance.now();
    try {
      await found.run();
      return { ok: true, ms: performance.now() - start };
    } catch (error) {
      return { ok: false, ms: performance.now() - start, error: error instanceof Error ? `${error.stack ?? error.message}` : String(error) };
    }
  },

  async openShared(name: string): Promise<void> {
    shared = idbStorage({ name });
    await shared.open();
    shared.onExternalChange((changes) => {
      received.push(...changes);
      for (const wake of waiters.splice(0)) wake();
    });
  },

  async closeShared(): Promise<void> {
    await shared?.close();
  },

  async writeDoc(collection: string, key: string, data: Record<string, unknown>): Promise<void> {
    await shared!.write(async (tx) => {
      await tx.putDocs([{ collection, key, data, deleted: false, hlc: 'h', fieldClocks: null, syncState: 'pending', server: null }]);
    });
  },

  /** Resolves with the changes announced so far, once there is at least one for `key`. */
  async waitForChange(key: string): Promise<DocChangeRef[]> {
    while (!received.some((c) => c.key === key)) await new Promise<void>((wake) => waiters.push(wake));
    return [...received];
  },

  async readDoc(collection: string, key: string): Promise<Record<string, unknown> | null | undefined> {
    const [doc] = await shared!.read((tx) => tx.getDocs(collection, [key]));
    return doc?.data;
  },

  /** Takes the lock and never gives it back (until the page goes away). */
  async holdLockForever(lockName: string): Promise<void> {
    await new Promise<void>((acquired) => {
      void shared!.lock(lockName, () => {
        acquired();
        return new Promise<never>(() => undefined);
      });
    });
  },

  /** Asks for the lock; `lockState()` tells whether it was granted. */
  requestLock(lockName: string): void {
    lockState.requested = true;
    void shared!.lock(lockName, async () => {
      lockState.granted = true;
    });
  },

  lockState: () => ({ ...lockState }),

  /**
   * Takes the lock `rounds` times. Inside, it marks the database as held by this tab, yields to the
   * event loop a few times and checks the mark is still its own: a second holder would overwrite it.
   */
  async lockRounds(lockName: string, tab: string, rounds: number): Promise<LockReport> {
    const report: LockReport = { intervals: [], violations: 0 };
    for (let round = 0; round < rounds; round++) {
      await shared!.lock(lockName, async () => {
        const start = now();
        const before = await shared!.read((tx) => tx.getMeta<string>('holder'));
        if (before !== undefined) report.violations++;
        await shared!.write((tx) => tx.setMeta('holder', tab));
        await pause(5);
        const during = await shared!.read((tx) => tx.getMeta<string>('holder'));
        if (during !== tab) report.violations++;
        await shared!.write((tx) => tx.setMeta('holder', undefined));
        report.intervals.push([start, now()]);
      });
      await pause(1);
    }
    return report;
  },
};

const nexusApi = {
  async open(name: string): Promise<void> {
    nexus = await createNexus({ storage: idbStorage({ name }) });
    contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id', indexes: ['name'] });
  },
  watch(id: string): void {
    contacts!.watch(id).subscribe((value) => {
      watched.push(value);
      for (const wake of watchWaiters.splice(0)) wake();
    });
  },
  async save(contact: Contact): Promise<void> {
    await contacts!.save(contact);
  },
  /** Resolves with every value watch() emitted, once one of them has this name. */
  async waitForWatched(name: string): Promise<(Contact | undefined)[]> {
    while (!watched.some((c) => c?.name === name)) await new Promise<void>((wake) => watchWaiters.push(wake));
    return [...watched];
  },
  async close(): Promise<void> {
    await nexus?.close();
  },
};

/** Text that does not compress (Chromium compresses large IndexedDB values). */
function randomText(size: number): string {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
  return new TextDecoder('latin1').decode(bytes);
}

const upgradeApi = {
  /** Opens a storage, then lets a raw connection open the next version; returns the error code of a later read. */
  async readAfterNewerVersion(name: string): Promise<{ upgraded: boolean; code: string | undefined; message: string }> {
    const storage = idbStorage({ name });
    await storage.open();
    const current = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const version = current.version;
    current.close();
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, version + 1);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    upgraded.close();
    const error = (await storage.read((tx) => tx.getMeta('x')).catch((e: unknown) => e)) as { code?: string; message?: string };
    return { upgraded: upgraded.version === version + 1, code: error?.code, message: String(error?.message) };
  },

  /**
   * Another tab of an older app version keeps the database open and ignores versionchange; this
   * tab's storage needs a newer version (simulated by a factory asking for version + 1).
   */
  async blockedUpgrade(name: string): Promise<{ code: string | undefined; message: string }> {
    const first = idbStorage({ name });
    await first.open();
    await first.close();
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const newer = { open: (n: string) => indexedDB.open(n, old.version + 1), cmp: (a: unknown, b: unknown) => indexedDB.cmp(a, b) } as IDBFactory;
    const error = (await idbStorage({ name, indexedDB: newer })
      .open()
      .catch((e: unknown) => e)) as { code?: string; message?: string } | undefined;
    old.close();
    return { code: error?.code, message: String(error?.message) };
  },

  /** Writes documents of `size` characters, each in its own write() issued in one tick; returns each outcome. */
  async writeBig(name: string, sizes: number[]): Promise<{ ok: boolean; code?: string }[]> {
    const storage = idbStorage({ name });
    await storage.open();
    const results = await Promise.allSettled(
      sizes.map((size, i) => storage.write(async (tx) => tx.putDocs([{ collection: 'blobs', key: `b${i}`, data: { text: randomText(size) }, deleted: false, hlc: 'h', fieldClocks: null, syncState: 'pending', server: null }]))),
    );
    const keys = (await storage.read((tx) => tx.queryDocs('blobs', {}))).map((d) => d.key);
    await storage.close();
    return results.map((r, i) => (r.status === 'fulfilled' ? { ok: keys.includes(`b${i}`) } : { ok: false, code: (r.reason as { code?: string }).code }));
  },
};

let syncing: { nexus: Nexus; contacts: Store<Contact, string> } | undefined;

/** A browser app: createNexus over idbStorage, syncing with a real nexus-store server through httpRemote. */
const syncApi = {
  async open(name: string, url: string, token: string): Promise<void> {
    const nexus = await createNexus({ storage: idbStorage({ name }), remote: httpRemote({ url, token }), autoSync: false });
    syncing = { nexus, contacts: nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' }) };
  },
  async saveAll(list: Contact[]): Promise<void> {
    await syncing!.contacts.saveAll(list);
  },
  async sync(): Promise<{ pushed: number; pulled: number; conflicts: number }> {
    const { pushed, pulled, conflicts } = await syncing!.nexus.sync();
    return { pushed, pulled, conflicts };
  },
  async getAll(): Promise<Contact[]> {
    return syncing!.contacts.getAll({ orderBy: 'id' });
  },
  async pending(): Promise<number> {
    return (await syncing!.nexus.pending()).length;
  },
  async close(): Promise<void> {
    await syncing?.nexus.close();
    syncing = undefined;
  },
};

(globalThis as { nexusSync?: typeof syncApi }).nexusSync = syncApi;
(globalThis as { nexusApp?: typeof nexusApi }).nexusApp = nexusApi;
(globalThis as { nexusUpgrade?: typeof upgradeApi }).nexusUpgrade = upgradeApi;
(globalThis as { nexusIdb?: typeof api }).nexusIdb = api;
(globalThis as { nexusPageReady?: boolean }).nexusPageReady = true;
export type PageApi = typeof api;
export type NexusApi = typeof nexusApi;
export type UpgradeApi = typeof upgradeApi;
export type SyncApi = typeof syncApi;
