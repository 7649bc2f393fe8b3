import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { z } from 'zod';
import { createNexus } from '@nexus-store/core';
import { httpRemote } from '@nexus-store/http';
import { createSyncServer, silentLogger, sqliteServerStore, type ServerStore } from '@nexus-store/server';
import { sqliteStorage } from '@nexus-store/sqlite';
import { SECRET } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'nexus-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a client killed (SIGKILL) after its push committed but before the answer re-pushes on restart and is applied once', async () => {
  const inner = sqliteServerStore({ filename: join(dir, 'server.db') });
  let committed!: () => void;
  const pushCommitted = new Promise<void>((r) => (committed = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = false;
  // The first push commits, then its answer is held back until the client process is dead.
  const store: ServerStore = {
    ...inner,
    write: async (tenant, fn) => {
      const result = await inner.write(tenant, fn);
      if (!held) {
        held = true;
        committed();
        await gate;
      }
      return result;
    },
  };
  const server = createSyncServer({ database: store, auth: { jwtSecret: SECRET }, logger: silentLogger });
  const { url } = await server.listen(0, '127.0.0.1');
  const token = await server.issueToken('alice', { tenant: 'acme' });
  const clientFile = join(dir, 'client.db');
  try {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, fileURLToPath(new URL('./fixtures/crashingClient.ts', import.meta.url)), url, token, clientFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    await Promise.race([pushCommitted, exited.then(() => Promise.reject(new Error(`client exited early: ${output}`)))]);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    release();
    expect(output).toBe('saved\n');

    // The device starts again from its file: the in-flight mutations go out again and are duplicates.
    const nexus = await createNexus({ storage: sqliteStorage({ filename: clientFile }), remote: httpRemote({ url, token }) });
    nexus.store('contacts', { schema: z.object({ id: z.string(), name: z.string() }), key: 'id' });
    expect((await nexus.pending()).map((p) => p.key).sort()).toEqual(['c1', 'c2', 'c3']);
    await nexus.sync();
    expect(await nexus.pending()).toEqual([]);
    await nexus.close();
    const raw = (await (await fetch(`${url}/sync/pull?limit=100`, { headers: { authorization: `Bearer ${token}` } })).json()) as { changes: Array<{ key: string; version: number }> };
    expect(raw.changes.map((c) => [c.key, c.version])).toEqual([['c1', 1], ['c2', 2], ['c3', 3]]);
  } finally {
    release();
    await server.close();
  }
});
