/**
 * The test page's script, bundled by esbuild for headless Chromium (see ../chromium.test.ts): the
 * storage conformance cases over real IndexedDB, and helpers for the several-tabs tests.
 */
import { storageConformanceCases } from '@nexus-store/core/testing';
import type { DocChangeRef } from '@nexus-store/core';
import { idbStorage } from '@nexus-store/idb';
import type { IdbStorage } from '@nexus-store/idb';

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
const received: DocChangeRef[] = [];
const waiters: (() => void)[] = [];

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

(globalThis as { nexusIdb?: typeof api }).nexusIdb = api;
export type PageApi = typeof api;
