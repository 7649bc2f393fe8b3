import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNexus, memoryStorage } from '@nexus-store/core';
import { storageConformanceCases } from '@nexus-store/core/testing';
import { httpRemote } from '@nexus-store/http';
import { createSyncServer, silentLogger, sqliteServerStore } from '@nexus-store/server';
import type { SyncServer } from '@nexus-store/server';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, chromiumPath, startChromium } from './browser/chromiumHarness.js';
import type { ChromiumSession } from './browser/chromiumHarness.js';
import { ContactSchema, type Contact } from './browser/contact.js';
import type { LockReport, NexusApi, PageApi, SyncApi, UpgradeApi } from './browser/pageEntry.js';

// Under CI Chromium is installed by .ci/run and these tests must run; elsewhere they are skipped
// (with this message) when the binary is missing.
const skip = !chromiumAvailable && process.env.CI !== 'true';
if (skip) console.warn(`[idb] Chromium not found at ${chromiumPath}: skipping the real-browser tests (set NEXUS_CHROMIUM, or apt-get install chromium).`);

type Api = { nexusIdb: PageApi; nexusApp: NexusApi; nexusUpgrade: UpgradeApi; nexusSync: SyncApi };

// The case names only (nothing runs in Node here): one vitest test per case, each run in the page.
const caseNames = storageConformanceCases(() => ({ create: () => Promise.reject(new Error('names only')) })).map((c) => c.name);

describe.skipIf(skip)('idbStorage in headless Chromium', () => {
  let session: ChromiumSession;
  let page: Page;

  beforeAll(async () => {
    session = await startChromium();
    page = await session.newPage();
  }, 60_000);

  afterAll(async () => {
    await session?.close();
  });

  describe('LocalStorage conformance: idbStorage (Chromium IndexedDB)', () => {
    it('the page runs the same cases as the Node suite', async () => {
      expect(await page.evaluate(() => (globalThis as unknown as Api).nexusIdb.caseNames())).toEqual(caseNames);
    });

    for (const name of caseNames) {
      it(name, async () => {
        const result = await page.evaluate((n) => (globalThis as unknown as Api).nexusIdb.runCase(n), name);
        expect(result.error).toBeUndefined();
        expect(result.ok).toBe(true);
      });
    }
  });

  describe('several tabs on one database', () => {
    let tabA: Page;
    let tabB: Page;
    const dbName = `tabs-${Date.now()}`;

    beforeAll(async () => {
      [tabA, tabB] = [await session.newPage(), await session.newPage()];
      for (const tab of [tabA, tabB]) await tab.evaluate((n) => (globalThis as unknown as Api).nexusIdb.openShared(n), dbName);
    });

    afterAll(async () => {
      for (const tab of [tabA, tabB]) await tab?.evaluate(() => (globalThis as unknown as Api).nexusIdb.closeShared());
    });

    it('a write in tab A is announced to tab B through onExternalChange, and B reads it', async () => {
      const announced = tabB.evaluate(() => (globalThis as unknown as Api).nexusIdb.waitForChange('c1'));
      await tabA.evaluate(() => (globalThis as unknown as Api).nexusIdb.writeDoc('contacts', 'c1', { id: 'c1', name: 'Ada' }));
      expect(await announced).toEqual([{ collection: 'contacts', key: 'c1' }]);
      expect(await tabB.evaluate(() => (globalThis as unknown as Api).nexusIdb.readDoc('contacts', 'c1'))).toEqual({ id: 'c1', name: 'Ada' });
    });

    it('a save through createNexus in tab A reaches store.watch() in tab B', async () => {
      const app = `app-${Date.now()}`;
      const [appA, appB] = [await session.newPage(), await session.newPage()];
      try {
        for (const tab of [appA, appB]) await tab.evaluate((n) => (globalThis as unknown as Api).nexusApp.open(n), app);
        await appB.evaluate(() => (globalThis as unknown as Api).nexusApp.watch('c1'));
        const seen = appB.evaluate(() => (globalThis as unknown as Api).nexusApp.waitForWatched('Grace'));
        await appA.evaluate(() => (globalThis as unknown as Api).nexusApp.save({ id: 'c1', name: 'Grace' }));
        const values = await seen;
        expect(values[0]).toBeUndefined();
        expect(values.at(-1)).toEqual({ id: 'c1', name: 'Grace' });
      } finally {
        for (const tab of [appA, appB]) await tab.evaluate(() => (globalThis as unknown as Api).nexusApp.close());
        await Promise.all([appA.close(), appB.close()]);
      }
    });

    it('a lock held by a tab that goes away is released to the waiting tab', async () => {
      const lockDb = `lock-${Date.now()}`;
      const [holder, waiter] = [await session.newPage(), await session.newPage()];
      for (const tab of [holder, waiter]) await tab.evaluate((n) => (globalThis as unknown as Api).nexusIdb.openShared(n), lockDb);
      await holder.evaluate(() => (globalThis as unknown as Api).nexusIdb.holdLockForever('sync'));
      await waiter.evaluate(() => (globalThis as unknown as Api).nexusIdb.requestLock('sync'));
      // The holder never releases, so the waiter cannot have been granted the lock yet.
      expect(await waiter.evaluate(() => (globalThis as unknown as Api).nexusIdb.lockState())).toEqual({ requested: true, granted: false });
      await holder.close();
      await waiter.waitForFunction(() => (globalThis as unknown as Api).nexusIdb.lockState().granted);
      await waiter.close();
    });

    it('lock() with the same name never runs in two tabs at once (Web Locks)', async () => {
      const run = (tab: Page, id: string) => tab.evaluate(([t]) => (globalThis as unknown as Api).nexusIdb.lockRounds('sync', t!, 8), [id]);
      const [a, b] = await Promise.all([run(tabA, 'A'), run(tabB, 'B')]);
      const check = (r: LockReport) => expect(r.violations).toBe(0);
      check(a);
      check(b);
      expect(a.intervals).toHaveLength(8);
      expect(b.intervals).toHaveLength(8);
      const all = [...a.intervals, ...b.intervals].sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < all.length; i++) expect(all[i]![0]).toBeGreaterThanOrEqual(all[i - 1]![1]);
    });
  });

  describe('errors from the real browser', () => {
    it('a newer version opened in another connection closes the storage: later operations fail with CLOSED', async () => {
      const result = await page.evaluate((n) => (globalThis as unknown as Api).nexusUpgrade.readAfterNewerVersion(n), `upgrade-${Date.now()}`);
      expect(result.upgraded).toBe(true);
      expect(result.code).toBe('CLOSED');
      expect(result.message).toMatch(/newer version/);
    });

    it('an upgrade blocked by another tab that keeps an older version open fails with UPGRADE_BLOCKED', async () => {
      const result = await page.evaluate((n) => (globalThis as unknown as Api).nexusUpgrade.blockedUpgrade(n), `blocked-${Date.now()}`);
      expect(result.code).toBe('UPGRADE_BLOCKED');
      expect(result.message).toMatch(/another tab/);
    });

    it('over the origin quota a write fails with QUOTA_EXCEEDED and the writes of its group still commit', async () => {
      // An origin no other test touched: Chromium applies a quota override before the origin's first use.
      const quotaPage = await session.newPage(session.otherOrigin);
      const cdp = await quotaPage.context().newCDPSession(quotaPage);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: session.otherOrigin, quotaSize: 2 * 1024 * 1024 });
      try {
        const results = await quotaPage.evaluate((n) => (globalThis as unknown as Api).nexusUpgrade.writeBig(n, [1000, 8 * 1024 * 1024, 1000]), `quota-${Date.now()}`);
        expect(results).toEqual([{ ok: true }, { ok: false, code: 'QUOTA_EXCEEDED' }, { ok: true }]);
      } finally {
        await cdp.send('Storage.overrideQuotaForOrigin', { origin: session.otherOrigin });
        await quotaPage.close();
      }
    });
  });
  describe('a browser app syncing with the reference server', () => {
    let server: SyncServer;
    let folder: string;
    let url: string;
    let token: string;

    beforeAll(async () => {
      folder = mkdtempSync(join(tmpdir(), 'nexus-idb-sync-'));
      server = createSyncServer({ database: sqliteServerStore({ filename: join(folder, 'server.db') }), auth: { jwtSecret: 'chromium-sync-secret-chromium-sync' }, corsOrigins: [session.origin], logger: silentLogger });
      ({ url } = await server.listen(0, '127.0.0.1'));
      token = await server.issueToken('browser-app');
    });

    afterAll(async () => {
      await server?.close();
      rmSync(folder, { recursive: true, force: true });
    });

    it('writes offline into IndexedDB, syncs over HTTP (CORS), meets a Node device\'s edits, and keeps it all across a reload', async () => {
      const name = `sync-${Date.now()}`;
      const open = (tab: Page) => tab.evaluate(([n, u, t]) => (globalThis as unknown as Api).nexusSync.open(n!, u!, t!), [name, url, token]);
      const tab = await session.newPage();
      await open(tab);
      await tab.evaluate(() => (globalThis as unknown as Api).nexusSync.saveAll([{ id: 'a', name: 'Ada' }, { id: 'b', name: 'Bob' }]));
      expect(await tab.evaluate(() => (globalThis as unknown as Api).nexusSync.pending())).toBe(2);
      // Its own writes do not come back: the push answer moved its cursor past them.
      expect(await tab.evaluate(() => (globalThis as unknown as Api).nexusSync.sync())).toEqual({ pushed: 2, pulled: 0, conflicts: 0 });

      const node = await createNexus({ storage: memoryStorage(), remote: httpRemote({ url, token }), autoSync: false });
      const contacts = node.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
      expect(await node.sync()).toMatchObject({ pulled: 2 });
      await contacts.saveAll([{ id: 'b', name: 'Bob (edited in Node)' }, { id: 'c', name: 'Cy' }]);
      expect(await node.sync()).toMatchObject({ pushed: 2 });
      await node.close();

      expect(await tab.evaluate(() => (globalThis as unknown as Api).nexusSync.sync())).toEqual({ pushed: 0, pulled: 2, conflicts: 0 });
      const everything = [{ id: 'a', name: 'Ada' }, { id: 'b', name: 'Bob (edited in Node)' }, { id: 'c', name: 'Cy' }];
      expect(await tab.evaluate(() => (globalThis as unknown as Api).nexusSync.getAll())).toEqual(everything);
      await tab.evaluate(() => (globalThis as unknown as Api).nexusSync.close());
      await tab.close();

      // A reload: a new page of the same origin opens the same IndexedDB database, cursor included.
      const again = await session.newPage();
      await open(again);
      expect(await again.evaluate(() => (globalThis as unknown as Api).nexusSync.getAll())).toEqual(everything);
      expect(await again.evaluate(() => (globalThis as unknown as Api).nexusSync.pending())).toBe(0);
      expect(await again.evaluate(() => (globalThis as unknown as Api).nexusSync.sync())).toEqual({ pushed: 0, pulled: 0, conflicts: 0 });
      await again.evaluate(() => (globalThis as unknown as Api).nexusSync.close());
      await again.close();
    });
  });
});
