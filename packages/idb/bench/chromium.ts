/**
 * Figures for the README: runs bench/benchPage.ts in headless Chromium and prints milliseconds.
 * `npm run bench -w @nexus-store/idb` (needs Chromium: NEXUS_CHROMIUM or /usr/bin/chromium).
 */
import { fileURLToPath } from 'node:url';
import { startChromium } from '../tests/browser/chromiumHarness.js';

const session = await startChromium(fileURLToPath(new URL('./benchPage.ts', import.meta.url)));
try {
  const page = await session.newPage();
  const figures = await page.evaluate(() => (globalThis as unknown as { runBench(): Promise<Record<string, number>> }).runBench());
  for (const [name, ms] of Object.entries(figures)) console.log(`${ms.toFixed(2).padStart(10)} ms  ${name}`);
} finally {
  await session.close();
}
