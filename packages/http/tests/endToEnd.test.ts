import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createManualConnectivity, createNexus, memoryStorage, type LocalStorage, type Nexus } from '@nexus-store/core';
import { httpRemote } from '@nexus-store/http';
import { createSyncServer, postgresServerStore, silentLogger, sqliteServerStore, type ServerStore, type SyncServer } from '@nexus-store/server';
import { TEST_POSTGRES_URL as PG_URL, dropPostgresSchemas, postgresAvailable } from '@nexus-store/server/testing';
import { sqliteStorage } from '@nexus-store/sqlite';
import { SECRET, until } from './helpers.js';

const pgUp = await postgresAvailable('PostgreSQL end-to-end tests');

const Contact = z.object({ id: z.string(), name: z.string(), phone: z.string().optional() });
type Contact = z.infer<typeof Contact>;

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'nexus-e2e-'));
  dirs.push(d);
  return d;
};

/** A server database that can be reopened by a new server instance (restart, second instance). */
interface Backend {
  name: string;
  open(): { store: () => ServerStore; cleanup: () => Promise<void> };
}

const sqliteBackend: Backend = {
  name: 'SQLite',
  open() {
    const filename = join(tempDir(), 'server.db');
    return { store: () => sqliteServerStore({ filename }), cleanup: async () => undefined };
  },
};

const postgresBackend: Backend = {
  name: 'PostgreSQL',
  open() {
    const schema = `nexus_e2e_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    return {
      store: () => postgresServerStore({ connectionString: PG_URL, schema }),
      cleanup: () => dropPostgresSchemas([schema]),
    };
  },
};

const clientStorages: Array<{ name: string; make: () => () => LocalStorage }> = [
  { name: 'memoryStorage', make: () => () => memoryStorage() },
  {
    name: 'sqliteStorage',
    make: () => {
      const filename = join(tempDir(), `client-${Math.random().toString(36).slice(2)}.db`);
      return () => sqliteStorage({ filename, durability: 'normal' });
    },
  },
];

afterAll(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

for (const backend of [sqliteBackend, ...(pgUp ? [postgresBackend] : [])]) {
  for (const storageKind of clientStorages) {
    describe(`end to end: createNexus(${storageKind.name}) + httpRemote + server on ${backend.name}`, () => {
      const closers: Array<() => Promise<void>> = [];
      afterEach(async () => {
        for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
      });

      async function serverOn(store: ServerStore, collections?: Parameters<typeof createSyncServer>[0]['collections'], now?: () => number): Promise<{ server: SyncServer; url: string }> {
        const server = createSyncServer({ database: store, auth: { jwtSecret: SECRET }, logger: silentLogger, collections, now });
        closers.push(() => server.close());
        return { server, url: (await server.listen(0, '127.0.0.1')).url };
      }

      async function device(target: () => string, token: string, options: { fetch?: typeof fetch; storage?: LocalStorage; clientId?: string; live?: boolean } = {}) {
        const connectivity = createManualConnectivity(true);
        // The url may change (a restarted server gets a new port): resolve it per request.
        const routed: typeof fetch = (input, init) => {
          const path = String(input).replace(/^http:\/\/placeholder/, target());
          return (options.fetch ?? fetch)(path, init);
        };
        const nexus: Nexus = await createNexus({
          storage: options.storage ?? storageKind.make()(),
          remote: httpRemote({ url: 'http://placeholder', token, fetch: routed, timeoutMs: 5000 }),
          clientId: options.clientId,
          connectivity,
          autoSync: options.live ? { live: true, onWrite: false } : false,
        });
        closers.push(() => nexus.close());
        const contacts = nexus.store<Contact, string>('contacts', { schema: Contact, key: 'id', conflict: 'lastWriteWins', unique: ['phone'] });
        return { nexus, contacts, connectivity };
      }

      it('two devices edit, go offline, reconnect and converge', async () => {
        const db = backend.open();
        closers.push(db.cleanup);
        const { server, url } = await serverOn(db.store());
        const token = await server.issueToken('alice', { tenant: 'acme' });
        const a = await device(() => url, token);
        const b = await device(() => url, token);
        await a.contacts.save({ id: 'c1', name: 'Ada' });
        await a.nexus.sync();
        await b.nexus.sync();
        expect(await b.contacts.get('c1')).toEqual({ id: 'c1', name: 'Ada' });

        a.connectivity.setOnline(false);
        b.connectivity.setOnline(false);
        expect((await a.nexus.sync()).skipped).toBe('offline');
        await a.contacts.save({ id: 'c1', name: 'Ada Lovelace' });
        await a.contacts.save({ id: 'a-only', name: 'From A' });
        await b.contacts.save({ id: 'c1', name: 'Ada B.', phone: '555' });
        await b.contacts.save({ id: 'b-only', name: 'From B' });
        await b.contacts.delete('a-never-had');

        a.connectivity.setOnline(true);
        b.connectivity.setOnline(true);
        await a.nexus.sync();
        await b.nexus.sync();
        await a.nexus.sync();
        const onA = await a.contacts.getAll();
        const onB = await b.contacts.getAll();
        const sort = (xs: Contact[]) => [...xs].sort((x, y) => x.id.localeCompare(y.id));
        expect(sort(onA)).toEqual(sort(onB));
        expect(sort(onA).map((c) => c.id)).toEqual(['a-only', 'b-only', 'c1']);
        expect(await a.nexus.pending()).toEqual([]);
        expect(await b.nexus.pending()).toEqual([]);
      });

      it('unique values across devices: the first committed record wins and both devices keep one record', async () => {
        const db = backend.open();
        closers.push(db.cleanup);
        const { server, url } = await serverOn(db.store(), { contacts: { unique: ['phone'], schema: Contact } });
        const token = await server.issueToken('alice', { tenant: 'acme' });
        const a = await device(() => url, token);
        const b = await device(() => url, token);
        await a.contacts.save({ id: 'first', name: 'Ada', phone: '555-0100' });
        await b.contacts.save({ id: 'second', name: 'Ada L.', phone: '555-0100' });
        await a.nexus.sync();
        await b.nexus.sync();
        await a.nexus.sync();
        const sort = (xs: Contact[]) => [...xs].sort((x, y) => x.id.localeCompare(y.id));
        const onA = sort(await a.contacts.getAll());
        const onB = sort(await b.contacts.getAll());
        expect(onA).toEqual(onB);
        expect(onA.map((c) => c.id)).toEqual(['first']);
        expect(await b.nexus.pending()).toEqual([]);
      });

      it('a record the server schema refuses becomes a failed mutation and does not block the others', async () => {
        const db = backend.open();
        closers.push(db.cleanup);
        const strict = z.object({ id: z.string(), name: z.string().min(3) });
        const { server, url } = await serverOn(db.store(), { contacts: { schema: strict } });
        const token = await server.issueToken('alice', { tenant: 'acme' });
        const a = await device(() => url, token);
        await a.contacts.save({ id: 'short', name: 'Al' });
        await a.contacts.save({ id: 'fine', name: 'Alice' });
        const report = await a.nexus.sync();
        expect(report).toMatchObject({ rejected: 1 });
        const failed = await a.nexus.failed();
        expect(failed.map((f) => [f.key, f.lastError?.code])).toEqual([['short', 'VALIDATION']]);
        const b = await device(() => url, token);
        await b.nexus.sync();
        expect((await b.contacts.getAll()).map((c) => c.id)).toEqual(['fine']);
      });

      it('after server compaction, a device with an expired cursor resyncs and drops what was deleted meanwhile', async () => {
        const db = backend.open();
        closers.push(db.cleanup);
        let now = Date.now();
        const { server, url } = await serverOn(db.store(), undefined, () => now);
        const token = await server.issueToken('alice', { tenant: 'acme' });
        const a = await device(() => url, token);
        const b = await device(() => url, token);
        await a.contacts.saveAll([{ id: 'keep', name: 'Keep' }, { id: 'drop', name: 'Drop' }, { id: 'pad', name: 'Pad' }]);
        await a.nexus.sync();
        await b.nexus.sync();
        await a.contacts.save({ id: 'pad', name: 'Pad 2' });
        await a.nexus.sync();
        await b.nexus.sync(); // b's cursor is now past the first versions
        await a.contacts.delete('drop');
        await a.contacts.save({ id: 'new', name: 'New' });
        await a.nexus.sync();
        now += 60_000;
        expect((await server.compact({ olderThanMs: 1000 })).tombstones).toBe(1);
        await b.nexus.sync();
        const ids = (await b.contacts.getAll()).map((c) => c.id).sort();
        expect(ids).toEqual(['keep', 'new', 'pad']);
      });

      it('a push whose response is lost is applied once', async () => {
        const db = backend.open();
        closers.push(db.cleanup);
        const { server, url } = await serverOn(db.store());
        const token = await server.issueToken('alice', { tenant: 'acme' });
        let loseNextPushResponse = true;
        const lossy: typeof fetch = async (input, init) => {
          const response = await fetch(input, init);
          if (new URL(String(input)).pathname === '/sync/push' && loseNextPushResponse) {
            loseNextPushResponse = false;
            await response.arrayBuffer();
            throw new TypeError('socket hang up (response lost)');
          }
          return response;
        };
        const a = await device(() => url, token, { fetch: lossy });
        await a.contacts.save({ id: 'once', name: 'Only once' });
        await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'NETWORK' });
        await a.nexus.sync();
        expect(await a.nexus.pending()).toEqual([]);
        const raw = await (await fetch(`${url}/sync/pull?limit=100`, { headers: { authorization: `Bearer ${token}` } })).json() as { changes: Array<{ key: string; version: number }> };
        // Applied once: one record at version 1, and no second version was ever assigned.
        expect(raw.changes.map((c) => [c.key, c.version])).toEqual([['once', 1]]);
        const b = await device(() => url, token);
        await b.nexus.sync();
        expect(await b.contacts.getAll()).toEqual([{ id: 'once', name: 'Only once' }]);
      });

      it('a server restart between push and acknowledgement loses nothing', async () => {
        const db = backend.open();
        closers.push(db.cleanup);
        let current = await serverOn(db.store());
        const token = await current.server.issueToken('alice', { tenant: 'acme' });
        let crashOnPush = true;
        const crashing: typeof fetch = async (input, init) => {
          if (new URL(String(input)).pathname === '/sync/push' && crashOnPush) {
            crashOnPush = false;
            const response = await fetch(input, init);
            await response.arrayBuffer();
            // The push committed; the server goes down before the client hears back.
            await current.server.close();
            throw new TypeError('connection reset');
          }
          return fetch(input, init);
        };
        const clientFile = storageKind.make();
        const a = await device(() => current.url, token, { fetch: crashing, storage: clientFile() });
        await a.contacts.saveAll([{ id: 'r1', name: 'One' }, { id: 'r2', name: 'Two' }]);
        await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'NETWORK' });
        current = await serverOn(db.store());
        await a.contacts.save({ id: 'r3', name: 'Three' });
        await a.nexus.sync();
        expect(await a.nexus.pending()).toEqual([]);
        const b = await device(() => current.url, token);
        await b.nexus.sync();
        const ids = (await b.contacts.getAll()).map((c) => c.id).sort();
        expect(ids).toEqual(['r1', 'r2', 'r3']);
        const raw = await (await fetch(`${current.url}/sync/pull?limit=100`, { headers: { authorization: `Bearer ${token}` } })).json() as { changes: Array<{ version: number }> };
        expect(raw.changes.map((c) => c.version)).toEqual([1, 2, 3]);
      });

      if (backend === postgresBackend) {
        it('a change pushed through instance A reaches a client subscribed to instance B within a second', async () => {
          const db = backend.open();
          closers.push(db.cleanup);
          const first = await serverOn(db.store());
          const second = await serverOn(db.store());
          const token = await first.server.issueToken('alice', { tenant: 'acme' });
          const writer = await device(() => first.url, token);
          const watcher = await device(() => second.url, token, { live: true });
          await until(() => watcher.nexus.status.lastSyncAt !== null);
          await writer.contacts.save({ id: 'live', name: 'Pushed on A' });
          const started = Date.now();
          await writer.nexus.sync();
          let seen: Contact | undefined;
          for (;;) {
            seen = await watcher.contacts.get('live');
            if (seen || Date.now() - started > 3000) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          expect(seen).toEqual({ id: 'live', name: 'Pushed on A' });
          expect(Date.now() - started).toBeLessThan(1000);
        });
      }
    });
  }
}
