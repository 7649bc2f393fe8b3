import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** The record every benchmark saves: a small contact-like object (about 150 bytes of JSON). */
export const ItemSchema = z.object({
  id: z.string(),
  name: z.string(),
  city: z.string(),
  score: z.number(),
  active: z.boolean(),
});
export type Item = z.infer<typeof ItemSchema>;

/** 1,000 distinct cities: an indexed equality query over N records returns N / 1,000 rows. */
export const CITIES = 1000;

export function item(i: number, prefix = 'item'): Item {
  return { id: `${prefix}-${String(i).padStart(7, '0')}`, name: `Name ${i} Lastname`, city: `city-${i % CITIES}`, score: (i * 7919) % 1000, active: i % 3 !== 0 };
}

export function items(count: number, prefix = 'item'): Item[] {
  return Array.from({ length: count }, (_, i) => item(i, prefix));
}

export function tempDir(): { dir: string; file: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-bench-'));
  return { dir, file: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
