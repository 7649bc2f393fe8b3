import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const chromiumPath = process.env.NEXUS_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(chromiumPath);

/** Bundles a page script (by default tests/browser/pageEntry.ts), resolving workspace packages to their src/. */
async function bundlePage(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    // runStorageConformance imports vitest lazily; the page uses storageConformanceCases only.
    external: ['vitest'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export interface ChromiumSession {
  /** http://127.0.0.1:port, the origin of every page unless newPage is given another. */
  origin: string;
  /** The same server as http://localhost:port: another origin, with storage of its own. */
  otherOrigin: string;
  browser: Browser;
  newPage(origin?: string): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Serves the bundled page from a node:http server on port 0 (IndexedDB, BroadcastChannel and Web
 * Locks need a real origin) and launches headless Chromium.
 */
export async function startChromium(entry = fileURLToPath(new URL('./pageEntry.ts', import.meta.url))): Promise<ChromiumSession> {
  const script = await bundlePage(entry);
  const html = '<!doctype html><meta charset="utf-8"><title>nexus-store idb</title><script type="module" src="/page.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  } catch (error) {
    server.close();
    throw error;
  }
  const context = await browser.newContext();
  return {
    origin,
    otherOrigin: `http://localhost:${port}`,
    browser,
    async newPage(pageOrigin = origin) {
      const page = await context.newPage();
      page.on('pageerror', (error) => console.error('[page error]', error));
      await page.goto(`${pageOrigin}/`);
      await page.waitForFunction(() => 'nexusPageReady' in globalThis);
      return page;
    },
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
