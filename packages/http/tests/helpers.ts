import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncServer, silentLogger, sqliteServerStore, type SyncServer, type SyncServerOptions } from '@nexus-store/server';
import type { HttpRemoteTimers } from '@nexus-store/http';

export const SECRET = 'http-test-secret-http-test-secret-0123';

/** A real sync server on a SQLite file in a temp folder, on port 0. */
export async function startServer(options: Partial<SyncServerOptions> = {}): Promise<{ server: SyncServer; url: string; token: string; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-http-'));
  const server = createSyncServer({ database: sqliteServerStore({ filename: join(dir, 'server.db') }), auth: { jwtSecret: SECRET }, logger: silentLogger, ...options });
  const { url } = await server.listen(0, '127.0.0.1');
  const token = await server.issueToken('alice', { tenant: 't1' });
  return {
    server,
    url,
    token,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A tiny Node server with a custom handler (failing servers, hanging servers). */
export async function tinyServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createServer((req, res) => {
    count += 1;
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Timers that only fire when the test says so. */
export function manualTimers() {
  let next = 1;
  const pending = new Map<number, { fn: () => void; ms: number }>();
  const timers: HttpRemoteTimers = {
    setTimeout(fn, ms) {
      const id = next++;
      pending.set(id, { fn, ms });
      return id;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    pending: () => [...pending.values()].map((p) => p.ms),
    /** Fires every pending timer whose delay satisfies `which`. */
    fire(which: (ms: number) => boolean = () => true) {
      for (const [id, p] of [...pending]) {
        if (!which(p.ms)) continue;
        pending.delete(id);
        p.fn();
      }
    },
  };
}

/** Polls `check` on the event loop (no fixed sleeps) until it is true. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A valid upsert mutation with sensible defaults (shared with the other packages' tests). */
export { makeMutation as mutation } from '@nexus-store/core/testing';
