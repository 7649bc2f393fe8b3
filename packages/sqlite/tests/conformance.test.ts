import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStorageConformance } from '@nexus-store/core/testing';
import { sqliteStorage } from '@nexus-store/sqlite';

// Each case gets a fresh folder with a real database file; `create()` reopens the same file.
await runStorageConformance('sqliteStorage (file, durability full)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-sqlite-conformance-'));
  const filename = join(dir, 'conformance.db');
  return {
    create: () => sqliteStorage({ filename }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

await runStorageConformance('sqliteStorage (file, durability normal)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-sqlite-conformance-'));
  const filename = join(dir, 'conformance.db');
  return {
    create: () => sqliteStorage({ filename, durability: 'normal' }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});
