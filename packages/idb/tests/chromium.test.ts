import { storageConformanceCases } from '@nexus-store/core/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, chromiumPath, startChromium } from './browser/chromiumHarness.js';
import type { ChromiumSession } from './browser/chromiumHarness.js';
import type { LockReport, NexusApi, PageApi, UpgradeApi } from './browser/pageEntry.js';

// Under CI Chromium is installed by .ci/run and these tests must run; elsewhere they are skipped
// (with this message) when the binary is missing.
const skip = !chromiumAvailable && process.env.CI !== 'true';
if (skip) console.warn(`[idb] Chromium not found at ${chromiumPath}: skipping the real-browser tests (set NEXUS_CHROMIUM, or apt-get install chromium).`);

type Api = { nexusIdb: PageApi; nexusApp: NexusApi; nexusUpgrade: UpgradeApi };

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
});
