import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { createMemoryRemote, type MemoryRemote } from '@nexus-store/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const executablePath = process.env.NEXUS_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(executablePath);
if (!hasChromium && process.env.CI === 'true') throw new Error(`Chromium not found at ${executablePath}; CI must run the web background sync tests (set NEXUS_CHROMIUM).`);
if (!hasChromium) console.warn(`[webSyncService.chromium] skipped: no Chromium at ${executablePath} (install chromium or set NEXUS_CHROMIUM).`);

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    conditions: ['source'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** The sync protocol over node:http in front of the in-process reference remote. */
function startServer(remote: MemoryRemote, scripts: { page: string; sw: string }) {
  const state = { failPushes: 0, authHeaders: [] as (string | undefined)[], pushWaiters: [] as (() => void)[] };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
      if (url.pathname === '/') return send(200, 'text/html', '<!doctype html><title>bg</title><script src="/page.js"></script>');
      if (url.pathname === '/page.js') return send(200, 'text/javascript', scripts.page);
      if (url.pathname === '/sw.js') return send(200, 'text/javascript', scripts.sw);
      if (url.pathname === '/sync/push' && req.method === 'POST') {
        state.authHeaders.push(req.headers.authorization);
        const body = (await readJson(req)) as { mutations: Parameters<MemoryRemote['push']>[0] };
        if (state.failPushes > 0) {
          state.failPushes -= 1;
          return send(503, 'application/json', JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'try later' } }));
        }
        const results = await remote.push(body.mutations);
        send(200, 'application/json', JSON.stringify({ results }));
        for (const waiter of state.pushWaiters.splice(0)) waiter();
        return;
      }
      if (url.pathname === '/sync/pull') {
        const cursor = url.searchParams.get('cursor');
        const result = await remote.pull(cursor ? cursor : null, Number(url.searchParams.get('limit') ?? 500));
        return send(200, 'application/json', JSON.stringify(result));
      }
      send(404, 'application/json', JSON.stringify({ error: { code: 'NOT_FOUND', message: url.pathname } }));
    })().catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  return { server, state };
}

describe.skipIf(!hasChromium)('WebSyncService in headless Chromium (service worker, Background Sync via CDP)', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let server: Server;
  let state: ReturnType<typeof startServer>['state'];
  let origin: string;
  let registrationId: string;
  const remote = createMemoryRemote();

  beforeAll(async () => {
    const [pageJs, swJs] = await Promise.all([bundle('./browser/page.ts'), bundle('./browser/sw.ts')]);
    ({ server, state } = startServer(remote, { page: pageJs, sw: swJs }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // localhost is a secure context: service workers are allowed over http.
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    context = await browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (error) => console.error('[page]', error));
    cdp = await context.newCDPSession(page);
    const registrations = new Map<string, string>();
    let onRegistration = () => {};
    cdp.on('ServiceWorker.workerRegistrationUpdated', (event: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
      for (const r of event.registrations) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
      onRegistration();
    });
    await cdp.send('ServiceWorker.enable');
    await page.goto(`${origin}/`);
    const setup = await page.evaluate(() => (window as unknown as { setup(): Promise<{ mode: string; scope: string }> }).setup());
    expect(setup.mode).toBe('background-sync');
    if (!registrations.has(setup.scope)) await new Promise<void>((resolve) => (onRegistration = () => registrations.has(setup.scope) && resolve()));
    registrationId = registrations.get(setup.scope)!;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  const saveContact = (id: string, name: string) => page.evaluate(([i, n]) => (window as unknown as { save(c: { id: string; name: string }): Promise<void> }).save({ id: i!, name: n! }), [id, name]);
  const pendingCount = () => page.evaluate(() => (window as unknown as { pendingCount(): Promise<number> }).pendingCount());
  const statuses = () => page.evaluate(() => [...(window as unknown as { statuses: string[] }).statuses]);
  const appliedKeys = () => remote.applied.map((a) => a.key);

  it('a sync event fired through CDP makes the worker push the outbox the page wrote', async () => {
    await saveContact('c1', 'Ada');
    await saveContact('c2', 'Grace');
    expect(await pendingCount()).toBe(2);
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId, tag: 'nexus-store-sync', lastChance: false });
    await expect.poll(() => appliedKeys().sort(), { timeout: 15_000 }).toEqual(['c1', 'c2']);
    expect(state.authHeaders.at(-1)).toBe('Bearer test-token');
    // The worker acknowledged the outbox in the shared IndexedDB; the page sees nothing pending.
    await expect.poll(pendingCount, { timeout: 10_000 }).toBe(0);
    // The page's service followed the worker's run through messages.
    await expect.poll(statuses, { timeout: 10_000 }).toEqual(['idle', 'running', 'completed']);
  });

  it('a periodicsync event pushes too', async () => {
    await saveContact('c3', 'Hedy');
    await cdp.send('ServiceWorker.dispatchPeriodicSyncEvent', { origin, registrationId, tag: 'nexus-store-sync' });
    await expect.poll(() => appliedKeys().includes('c3'), { timeout: 15_000 }).toBe(true);
    await expect.poll(pendingCount, { timeout: 10_000 }).toBe(0);
  });

  it('a failed push is reported as retry (scheduled), and as failed on the last chance; the outbox stays until a run succeeds', async () => {
    await saveContact('c4', 'Katherine');
    state.failPushes = 1;
    const before = (await statuses()).length;
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId, tag: 'nexus-store-sync', lastChance: false });
    await expect.poll(async () => (await statuses()).slice(before), { timeout: 15_000 }).toEqual(['running', 'scheduled']);
    expect(await pendingCount()).toBe(1);
    state.failPushes = 1;
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId, tag: 'nexus-store-sync', lastChance: true });
    await expect.poll(async () => (await statuses()).slice(before), { timeout: 15_000 }).toEqual(['running', 'scheduled', 'running', 'failed']);
    expect(appliedKeys()).not.toContain('c4');
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId, tag: 'nexus-store-sync', lastChance: false });
    await expect.poll(() => appliedKeys().includes('c4'), { timeout: 15_000 }).toBe(true);
    await expect.poll(pendingCount, { timeout: 10_000 }).toBe(0);
  });

  it('scheduleSync registers the one-off sync; runNow resolves once the browser fired it and the worker pushed', async () => {
    const before = (await statuses()).length;
    await page.evaluate(() => (window as unknown as { scheduleSync(): Promise<void> }).scheduleSync());
    // The registration fires at once (online). Let that run end first: the worker's nexus.sync() would
    // share a run already in flight, which started before c5 existed.
    await expect.poll(async () => (await statuses()).slice(before).includes('completed'), { timeout: 15_000 }).toBe(true);
    await saveContact('c5', 'Margaret');
    await page.evaluate(() => (window as unknown as { runNow(): Promise<void> }).runNow());
    expect(appliedKeys()).toContain('c5');
    expect(await pendingCount()).toBe(0);
    expect((await statuses()).at(-1)).toBe('completed');
  });
});
