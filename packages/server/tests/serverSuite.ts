import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { createSyncServer, silentLogger, type SyncServer, type SyncServerOptions } from '@nexus-store/server';
import { api, mutation, SECRET, waitForPoke, type StoreFactory } from './helpers.js';

/** The protocol, checked over a real HTTP server on port 0, for one store kind. */
export function runServerSuite(name: string, factory: StoreFactory): void {
  describe(`sync server on ${name}`, () => {
    const open: SyncServer[] = [];

    async function start(options: Partial<SyncServerOptions> = {}, store = factory.create().store) {
      const server = createSyncServer({ database: store, auth: { jwtSecret: SECRET, adminToken: 'admin-secret' }, logger: silentLogger, ...options });
      open.push(server);
      const { url } = await server.listen(0, '127.0.0.1');
      const token = await server.issueToken('alice', { tenant: 't1' });
      return { server, url, token, client: api(url, token) };
    }

    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    afterAll(() => factory.cleanup());

    it('applies a push and pulls each record once at its latest version, in version order', async () => {
      const { client } = await start();
      const a = mutation({ key: 'a', data: { name: 'A' } });
      const b = mutation({ key: 'b', data: { name: 'B' } });
      const first = await client.push([a, b]);
      expect(first.status).toBe(200);
      expect(first.body.results).toEqual([
        { mutationId: a.mutationId, status: 'applied', version: 1 },
        { mutationId: b.mutationId, status: 'applied', version: 2 },
      ]);
      const a2 = mutation({ key: 'a', data: { name: 'A2' }, baseVersion: 1, fieldClocks: { name: 'h2' } });
      expect((await client.push([a2])).body.results[0]).toMatchObject({ status: 'applied', version: 3 });
      const pulled = await client.pull(null);
      expect(pulled.status).toBe(200);
      expect(pulled.body).toEqual({
        changes: [
          { collection: 'contacts', key: 'b', version: 2, deleted: false, data: { name: 'B' }, hlc: b.hlc, fieldClocks: null, clientId: 'client-a' },
          { collection: 'contacts', key: 'a', version: 3, deleted: false, data: { name: 'A2' }, hlc: a2.hlc, fieldClocks: { name: 'h2' }, clientId: 'client-a' },
        ],
        cursor: '3',
        hasMore: false,
      });
      expect((await client.pull('3')).body).toEqual({ changes: [], cursor: '3', hasMore: false });
    });

    it('answers GET /health, and serves the same protocol through fetch (Request → Response) and a mounted Node handler', async () => {
      const { server, url, token } = await start();
      const health = await fetch(`${url}/health`);
      expect([health.status, await health.json()]).toEqual([200, { status: 'ok', store: name === 'SQLite' ? 'sqlite' : 'postgres', eventStreams: 0 }]);
      const viaFetch = await server.fetch(new Request('http://in-process/sync/push', {
        method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ clientId: 'client-a', mutations: [mutation({ key: 'f' })] }),
      }));
      expect(((await viaFetch.json()) as any).results[0]).toMatchObject({ status: 'applied', version: 1 });
      const host = createServer((req, res) => (req.url?.startsWith('/api/') ? ((req.url = req.url.slice(4)), server.handler(req, res)) : res.writeHead(418).end()));
      await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
      try {
        const mounted = api(`http://127.0.0.1:${(host.address() as AddressInfo).port}/api`, token);
        expect((await mounted.pullAll()).map((r: any) => r.key)).toEqual(['f']);
      } finally {
        host.closeAllConnections();
        await new Promise((r) => host.close(r));
      }
    });

    it('answers a replayed mutation as duplicate with its first version and applies it once', async () => {
      const { client } = await start();
      const m = mutation({ key: 'x' });
      expect((await client.push([m])).body.results[0]).toEqual({ mutationId: m.mutationId, status: 'applied', version: 1 });
      const other = mutation({ key: 'y' });
      expect((await client.push([other])).body.results[0].version).toBe(2);
      expect((await client.push([m, m])).body.results).toEqual([
        { mutationId: m.mutationId, status: 'duplicate', version: 1 },
        { mutationId: m.mutationId, status: 'duplicate', version: 1 },
      ]);
      const all = await client.pullAll();
      expect(all.map((r: any) => [r.key, r.version])).toEqual([['x', 1], ['y', 2]]);
      // Within one batch: a repeated mutation is a duplicate, and a later write sees an earlier one.
      const fresh = mutation({ key: 'z' });
      const next = mutation({ key: 'z', baseVersion: 3, data: { name: 'z2' } });
      const stale = mutation({ key: 'z', baseVersion: 0, data: { name: 'z3' } });
      expect((await client.push([fresh, fresh, next, stale])).body.results).toEqual([
        { mutationId: fresh.mutationId, status: 'applied', version: 3 },
        { mutationId: fresh.mutationId, status: 'duplicate', version: 3 },
        { mutationId: next.mutationId, status: 'applied', version: 4 },
        { mutationId: stale.mutationId, status: 'conflict', reason: 'version', current: expect.objectContaining({ key: 'z', version: 4, data: { name: 'z2' } }) },
      ]);
      expect((await client.pullAll()).map((r: any) => [r.key, r.version, r.data])).toEqual([['x', 1, { name: expect.any(String) }], ['y', 2, { name: expect.any(String) }], ['z', 4, { name: 'z2' }]]);
    });

    it('answers a batch applied whole as { applied: { version, count } } to a client that asks answer=compact, and every result otherwise', async () => {
      const { client } = await start();
      const push = async (mutations: ReturnType<typeof mutation>[], query: string) => {
        const { status, body } = await client.push(mutations, 'client-a', undefined, query);
        return [status, body];
      };
      const [a, b, c] = [mutation({ key: 'a' }), mutation({ key: 'b' }), mutation({ key: 'c' })];
      expect(await push([a, b], '?answer=compact')).toEqual([200, { applied: { version: 1, count: 2 } }]);
      // With the cursor the client sent (2: nothing else happened since), the cursor comes along.
      expect(await push([c], '?answer=compact&cursor=2')).toEqual([200, { applied: { version: 3, count: 1 }, cursor: '3' }]);
      // Not applied whole (a duplicate, a conflict): every result, as without the parameter.
      const d = mutation({ key: 'd' });
      const stale = mutation({ key: 'a', baseVersion: 0 });
      expect(await push([a, d], '?answer=compact')).toEqual([200, { results: [
        { mutationId: a.mutationId, status: 'duplicate', version: 1 },
        { mutationId: d.mutationId, status: 'applied', version: 4 },
      ] }]);
      expect((await push([stale], '?answer=compact'))[1].results[0]).toMatchObject({ status: 'conflict', reason: 'version' });
      expect(await push([mutation({ key: 'e' })], '')).toEqual([200, { results: [expect.objectContaining({ status: 'applied', version: 5 })] }]);
      expect(await push([mutation({ key: 'f' })], '?answer=full')).toEqual([200, { results: [expect.objectContaining({ status: 'applied', version: 6 })] }]);
    });

    it('still answers a replay as duplicate after its record was overwritten (by the same or another client), and keeps clients\' ids apart', async () => {
      const made = factory.create();
      const { client, server } = await start({}, made.store);
      const first = mutation({ key: 'r', clientId: 'client-a', data: { n: 1 } });
      const second = mutation({ key: 'r', clientId: 'client-a', baseVersion: 1, data: { n: 2 } });
      // Another client may use the same mutation id: it is a mutation of its own, here over the record second wrote.
      const sameId = mutation({ key: 'r', clientId: 'client-b', mutationId: second.mutationId, baseVersion: 2, data: { n: 3 } });
      expect((await client.push([first])).body.results[0]).toMatchObject({ status: 'applied', version: 1 });
      expect((await client.push([second])).body.results[0]).toMatchObject({ status: 'applied', version: 2 });
      expect((await client.push([sameId], 'client-b')).body.results[0]).toMatchObject({ status: 'applied', version: 3 });
      await server.close();
      const again = await start({}, made.again());
      expect((await again.client.push([first, second], 'client-a')).body.results).toEqual([
        { mutationId: first.mutationId, status: 'duplicate', version: 1 },
        { mutationId: second.mutationId, status: 'duplicate', version: 2 },
      ]);
      expect((await again.client.push([sameId], 'client-b')).body.results[0]).toEqual({ mutationId: sameId.mutationId, status: 'duplicate', version: 3 });
      expect((await again.client.pullAll()).map((r: any) => [r.key, r.version, r.data])).toEqual([['r', 3, { n: 3 }]]);
    });

    it('answers a stale baseVersion with a version conflict carrying the current record, and stores nothing', async () => {
      const { client } = await start();
      await client.push([mutation({ key: 'c', data: { n: 1 } })]);
      const stale = mutation({ key: 'c', data: { n: 2 }, baseVersion: 0, clientId: 'client-b' });
      const expected = { mutationId: stale.mutationId, status: 'conflict', reason: 'version', current: expect.objectContaining({ key: 'c', version: 1, data: { n: 1 } }) };
      expect((await client.push([stale], 'client-b')).body.results[0]).toEqual(expected);
      // No dedup record: asking again gives the same answer.
      expect((await client.push([stale], 'client-b')).body.results[0]).toEqual(expected);
      const missing = mutation({ key: 'nope', baseVersion: 4 });
      expect((await client.push([missing])).body.results[0]).toMatchObject({ status: 'conflict', reason: 'version', current: null });
      expect((await client.pullAll()).map((r: any) => [r.key, r.version, r.data])).toEqual([['c', 1, { n: 1 }]]);
    });

    it('answers a unique conflict with the older record and frees the value when that record is deleted', async () => {
      const { client } = await start({ collections: { contacts: { unique: ['phone'] } } });
      const first = mutation({ key: 'p1', data: { phone: '555' } });
      await client.push([first]);
      const dup = mutation({ key: 'p2', data: { phone: '555' } });
      expect((await client.push([dup])).body.results[0]).toEqual({
        mutationId: dup.mutationId, status: 'conflict', reason: 'unique', field: 'phone', current: expect.objectContaining({ key: 'p1', version: 1 }),
      });
      // The holder itself may keep its value; null values are not constrained.
      expect((await client.push([mutation({ key: 'p1', data: { phone: '555', n: 2 }, baseVersion: 1 })])).body.results[0].status).toBe('applied');
      expect((await client.push([mutation({ key: 'n1', data: { phone: null } }), mutation({ key: 'n2', data: { phone: null } })])).body.results.map((r: any) => r.status)).toEqual(['applied', 'applied']);
      await client.push([mutation({ key: 'p1', op: 'delete', data: null, baseVersion: 2 })]);
      expect((await client.push([mutation({ key: 'p2', data: { phone: '555' } })])).body.results[0].status).toBe('applied');
    });

    it('rejects an upsert that fails the collection schema without blocking the rest of the batch', async () => {
      const { client } = await start({ collections: { contacts: { schema: z.object({ name: z.string() }) } } });
      const bad = mutation({ key: 'bad', data: { name: 42 } });
      const good = mutation({ key: 'good', data: { name: 'ok' } });
      const { body } = await client.push([bad, good]);
      expect(body.results[0]).toMatchObject({ mutationId: bad.mutationId, status: 'rejected', code: 'VALIDATION' });
      expect(body.results[0].message).toContain('name');
      expect(body.results[1]).toMatchObject({ status: 'applied', version: 1 });
      expect((await client.pullAll()).map((r: any) => r.key)).toEqual(['good']);
    });

    it('applies a batch in one transaction: a failure in the middle applies none of it', async () => {
      let explode = true;
      const schema = { safeParse: (d: any) => { if (explode && d.boom) throw new Error('disk on fire'); return { success: true as const }; } };
      const { client } = await start({ collections: { contacts: { schema } } });
      const a = mutation({ key: 'a' });
      const boom = mutation({ key: 'b', data: { boom: true } });
      const res = await client.push([a, boom]);
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('INTERNAL');
      expect(await client.pullAll()).toEqual([]);
      explode = false;
      expect((await client.push([a, boom])).body.results.map((r: any) => [r.status, r.version])).toEqual([['applied', 1], ['applied', 2]]);
      // Pushes that run together (SQLite commits them as a group) fail alone and leave no version gap.
      explode = true;
      const concurrent = await Promise.all([
        client.push([mutation({ key: 'g1' }), mutation({ key: 'g2' })]),
        client.push([mutation({ key: 'bad1' }), mutation({ key: 'bad2', data: { boom: true } })]),
        client.push([mutation({ key: 'g3' })]),
      ]);
      expect(concurrent.map((r) => r.status)).toEqual([200, 500, 200]);
      const all = await client.pullAll();
      expect(all.map((r: any) => r.key).sort()).toEqual(['a', 'b', 'g1', 'g2', 'g3']);
      expect(all.map((r: any) => r.version)).toEqual([1, 2, 3, 4, 5]);
    });

    it('pages pulls with limit, hasMore and cursor, and clamps the limit', async () => {
      const { client } = await start({ limits: { maxPullLimit: 3 } });
      await client.push(Array.from({ length: 7 }, (_, i) => mutation({ key: `r${i}` })));
      const p1 = (await client.pull(null, 2)).body;
      expect([p1.changes.map((c: any) => c.version), p1.cursor, p1.hasMore]).toEqual([[1, 2], '2', true]);
      const p2 = (await client.pull(p1.cursor, 100)).body;
      expect([p2.changes.map((c: any) => c.version), p2.cursor, p2.hasMore]).toEqual([[3, 4, 5], '5', true]);
      const p3 = (await client.pull(p2.cursor, 3)).body;
      expect([p3.changes.map((c: any) => c.version), p3.cursor, p3.hasMore]).toEqual([[6, 7], '7', false]);
    });

    it('scopes data to the token tenant: another tenant neither sees nor touches it', async () => {
      const { server, url, client } = await start();
      const other = api(url, await server.issueToken('bob', { tenant: 't2' }));
      const m = mutation({ key: 'shared', data: { owner: 't1' } });
      await client.push([m]);
      expect(await other.pullAll()).toEqual([]);
      // The same mutation id from another tenant is a fresh mutation there, on its own record.
      expect((await other.push([{ ...m, data: { owner: 't2' } }])).body.results[0]).toMatchObject({ status: 'applied', version: 1 });
      expect((await other.push([mutation({ key: 'shared', op: 'delete', data: null, baseVersion: 1 })])).body.results[0].status).toBe('applied');
      expect((await client.pullAll()).map((r: any) => [r.key, r.deleted, r.data])).toEqual([['shared', false, { owner: 't1' }]]);
    });

    it('compacts old tombstones and dedup records; a cursor older than the horizon answers 410 CURSOR_EXPIRED', async () => {
      let now = 1_000_000;
      const { server, client } = await start({ now: () => now });
      const created = mutation({ key: 'gone' });
      await client.push([created, mutation({ key: 'kept' })]);
      await client.push([mutation({ key: 'gone', op: 'delete', data: null, baseVersion: 1 })]);
      now += 60_000;
      await client.push([mutation({ key: 'fresh-delete', op: 'delete', data: null })]);
      expect(await server.compact({ olderThanMs: 30_000 })).toEqual({ tombstones: 1, dedup: 3 });
      const expired = await client.pull('1');
      expect(expired.status).toBe(410);
      expect(expired.body.error.code).toBe('CURSOR_EXPIRED');
      expect((await client.pull('3')).status).toBe(200);
      expect((await client.pullAll()).map((r: any) => [r.key, r.deleted])).toEqual([['kept', false], ['fresh-delete', true]]);
      // The dedup record is gone: a very late replay is re-evaluated (and conflicts: the record moved on).
      expect((await client.push([created])).body.results[0]).toMatchObject({ status: 'applied' });
    });

    it('pokes every event stream of the tenant after a push commits, and no other tenant', async () => {
      const { server, url, token, client } = await start();
      const otherToken = await server.issueToken('bob', { tenant: 't2' });
      const otherSeen: unknown[] = [];
      let otherOpened!: () => void;
      const otherOpen = new Promise<void>((r) => (otherOpened = r));
      const other = waitForPoke(url, otherToken, (d) => otherSeen.push(d) === 2, otherOpened);
      await otherOpen;
      const poke = await waitForPoke(url, token, (d) => d.version >= 2, () => client.push([mutation(), mutation()]).then(() => undefined));
      expect(poke).toEqual({ version: 2 });
      await api(url, otherToken).push([mutation()]);
      await other;
      // The first event is the connect poke; had t1's poke leaked, the second would be version 2.
      expect(otherSeen).toEqual([{ version: 0 }, { version: 1 }]);
      // Both clients hung up: the server forgets their streams.
      for (let i = 0; i < 200 && ((await (await fetch(`${url}/health`)).json()) as any).eventStreams !== 0; i++) await new Promise((r) => setImmediate(r));
      expect(((await (await fetch(`${url}/health`)).json()) as any).eventStreams).toBe(0);
    });

    it('logs in users added through the admin API and refuses bad credentials and bad tokens', async () => {
      let now = 5_000_000;
      const { url, server } = await start({ now: () => now, auth: { jwtSecret: SECRET, adminToken: 'admin-secret', tokenTtl: 60 } });
      const post = (path: string, body: unknown, token?: string) =>
        fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
      expect((await post('/admin/users', { username: 'carol', password: 'longpassword', tenant: 't9' })).status).toBe(401);
      expect((await post('/admin/users', { username: 'carol', password: 'longpassword', tenant: 't9' }, 'wrong')).status).toBe(401);
      expect((await post('/admin/users', { username: 'carol', password: 'longpassword', tenant: 't9' }, 'admin-secret')).status).toBe(201);
      await server.addUser('dave', 'another-password', { tenant: 't9' });
      const bad = await post('/auth/login', { username: 'carol', password: 'nope' });
      expect([bad.status, ((await bad.json()) as any).error.code]).toEqual([401, 'INVALID_CREDENTIALS']);
      expect((await post('/auth/login', { username: 'ghost', password: 'nope' })).status).toBe(401);
      const { token } = (await (await post('/auth/login', { username: 'carol', password: 'longpassword' })).json()) as { token: string };
      const carol = api(url, token);
      await carol.push([mutation({ key: 'c1' })]);
      const dave = api(url, ((await (await post('/auth/login', { username: 'dave', password: 'another-password' })).json()) as { token: string }).token);
      expect((await dave.pullAll()).map((r: any) => r.key)).toEqual(['c1']); // same tenant t9
      const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      expect((await api(url, forged).pull()).status).toBe(401);
      const foreign = createSyncServer({ database: factory.create().store, auth: { jwtSecret: 'another-secret-another-secret-0123456' }, logger: silentLogger });
      open.push(foreign);
      expect((await api(url, await foreign.issueToken('carol', { tenant: 't9' })).pull()).status).toBe(401);
      expect((await fetch(`${url}/sync/pull`)).status).toBe(401);
      now += 61_000;
      const expired = await carol.pull();
      expect([expired.status, expired.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    });

    it('answers bad input with 4xx JSON errors and changes nothing', async () => {
      const { url, token, client } = await start({ collections: { contacts: {} }, limits: { maxBodyBytes: 20_000, maxMutations: 5, maxKeyLength: 16 } });
      await client.push([mutation({ key: 'base' })]);
      const send = async (body: string | Uint8Array, headers: Record<string, string> = {}) => {
        const res = await fetch(`${url}/sync/push`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: body as BodyInit });
        return { status: res.status, body: (await res.json()) as any };
      };
      const cases: Array<[string, string | Uint8Array, number, string, Record<string, string>?]> = [
        ['malformed JSON', '{"clientId":', 400, 'INVALID_JSON'],
        ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 400, 'INVALID_JSON'],
        ['wrong types', JSON.stringify({ clientId: 7, mutations: 'x' }), 400, 'VALIDATION'],
        ['upsert without data', JSON.stringify({ clientId: 'client-a', mutations: [mutation({ data: null })] }), 400, 'VALIDATION'],
        ['array data', JSON.stringify({ clientId: 'client-a', mutations: [{ ...mutation(), data: [1] }] }), 400, 'VALIDATION'],
        ['unknown collection', JSON.stringify({ clientId: 'client-a', mutations: [mutation({ collection: 'secrets' })] }), 400, 'UNKNOWN_COLLECTION'],
        ['oversized body', JSON.stringify({ clientId: 'client-a', mutations: [mutation({ data: { blob: 'x'.repeat(30_000) } })] }), 413, 'PAYLOAD_TOO_LARGE'],
        ['gzip bomb', gzipSync(JSON.stringify({ clientId: 'client-a', mutations: [mutation({ data: { blob: 'x'.repeat(300_000) } })] })), 413, 'PAYLOAD_TOO_LARGE', { 'content-encoding': 'gzip' }],
        ['broken gzip', 'not gzip at all', 400, 'BAD_BODY', { 'content-encoding': 'gzip' }],
        ['unsupported encoding', '{}', 415, 'UNSUPPORTED_ENCODING', { 'content-encoding': 'br' }],
        ['too many mutations', JSON.stringify({ clientId: 'client-a', mutations: Array.from({ length: 6 }, () => mutation()) }), 413, 'TOO_MANY_MUTATIONS'],
        ['key too long', JSON.stringify({ clientId: 'client-a', mutations: [mutation({ key: 'k'.repeat(17) })] }), 400, 'KEY_TOO_LONG'],
        ['mixed client ids', JSON.stringify({ clientId: 'client-a', mutations: [mutation({ clientId: 'client-z' })] }), 400, 'VALIDATION'],
        ['deeply nested data', `{"clientId":"client-a","mutations":[${JSON.stringify(mutation()).replace('"data":{', `"data":{"deep":${'{"a":'.repeat(1500)}1${'}'.repeat(1500)},`)}]}`, 400, 'TOO_DEEP'],
        ['negative baseVersion', JSON.stringify({ clientId: 'client-a', mutations: [mutation({ baseVersion: -1 })] }), 400, 'VALIDATION'],
      ];
      for (const [label, body, status, code, headers] of cases) {
        const res = await send(body, headers);
        expect([label, res.status, res.body.error?.code]).toEqual([label, status, code]);
        expect(typeof res.body.error.message).toBe('string');
      }
      // Streamed without a Content-Length: refused as it arrives.
      const chunks = Array.from({ length: 5 }, () => new TextEncoder().encode('x'.repeat(8000)));
      const streamed = await fetch(`${url}/sync/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: new ReadableStream<Uint8Array>({ pull: (controller) => (chunks.length > 0 ? controller.enqueue(chunks.shift()!) : controller.close()) }),
        duplex: 'half',
      } as RequestInit);
      expect([streamed.status, ((await streamed.json()) as any).error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      for (const q of ['cursor=abc', 'cursor=-1', 'limit=0', 'limit=x', 'cursor=1e5']) {
        const res = await fetch(`${url}/sync/pull?${q}`, { headers: { authorization: `Bearer ${token}` } });
        expect([q, res.status, ((await res.json()) as any).error.code]).toEqual([q, 400, 'VALIDATION']);
      }
      // A push's cursor in the query is checked like a pull's.
      for (const q of ['cursor=abc', 'cursor=-1', 'cursor=1e5']) {
        const res = await fetch(`${url}/sync/push?${q}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ clientId: 'client-a', mutations: [mutation({ key: 'q' })] }) });
        expect([q, res.status, ((await res.json()) as any).error.code]).toEqual([q, 400, 'VALIDATION']);
      }
      const unknownRoute = await fetch(`${url}/nope`);
      expect([unknownRoute.status, ((await unknownRoute.json()) as any).error.code]).toEqual([404, 'NOT_FOUND']);
      expect((await client.pullAll()).map((r: any) => r.key)).toEqual(['base']);
      // A gzip body within limits is accepted.
      const zipped = gzipSync(JSON.stringify({ clientId: 'client-a', mutations: [mutation({ key: 'zipped' })] }));
      expect((await send(zipped, { 'content-encoding': 'gzip' })).body.results[0].status).toBe('applied');
    });

    it('property: random bodies at every endpoint get 4xx JSON, never 5xx, and change nothing', async () => {
      const { url, token, client } = await start({ collections: { contacts: {} }, limits: { maxBodyBytes: 4096, maxMutations: 3 } });
      await client.push([mutation({ key: 'seed' })]);
      await fetch(`${url}/admin/users`, { method: 'POST', headers: { authorization: 'Bearer admin-secret' }, body: JSON.stringify({ username: 'u1', password: 'password1' }) });
      const before = JSON.stringify(await client.pullAll());
      const valid = mutation();
      const wrong = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer()), fc.object(), fc.double());
      const notString = [1, true, null, [], {}];
      const badValues: Record<string, unknown[]> = {
        mutationId: [...notString, ''], clientId: [...notString, ''], collection: [...notString, ''], key: [...notString, ''], hlc: notString,
        op: [1, 'patch', null], data: [1, 'x', true, [1]], changedFields: [1, 'x', { a: 1 }, [1]], baseVersion: ['1', -1, 1.5, null],
        fieldClocks: [1, 'x', [1], { a: 1 }], priority: [1, 'urgent'], txId: [1, {}],
      };
      const brokenMutation = fc
        .constantFrom(...Object.keys(badValues))
        .chain((field) => fc.tuple(fc.constant(field), fc.constantFrom(...badValues[field]!)))
        .map(([field, value]) => ({ ...valid, mutationId: `${valid.mutationId}-x`, [field]: value }));
      const missingField = fc.constantFrom('mutationId', 'clientId', 'collection', 'key', 'op', 'data', 'baseVersion', 'hlc').map((field) => {
        const copy: Record<string, unknown> = { ...valid, mutationId: `${valid.mutationId}-y` };
        delete copy[field];
        return copy;
      });
      const body = fc.oneof(
        fc.string(),
        fc.uint8Array({ maxLength: 200 }),
        fc.json().map((j) => j),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.record({ clientId: fc.oneof(fc.string(), wrong), mutations: fc.oneof(wrong, fc.array(fc.anything(), { maxLength: 4 })) }).map((v) => JSON.stringify(v)),
        brokenMutation.map((m) => JSON.stringify({ clientId: 'client-a', mutations: [m] })),
        missingField.map((m) => JSON.stringify({ clientId: 'client-a', mutations: [m] })),
        fc.record({ username: fc.oneof(fc.string(), wrong), password: fc.oneof(fc.string(), wrong) }).map((v) => JSON.stringify(v)),
      );
      const endpoint = fc.constantFrom(
        { method: 'POST', path: '/sync/push', auth: 'user' },
        { method: 'POST', path: '/sync/push', auth: 'none' },
        { method: 'POST', path: '/auth/login', auth: 'none' },
        { method: 'POST', path: '/admin/users', auth: 'user' },
        { method: 'POST', path: '/sync/pull', auth: 'user' },
        { method: 'PUT', path: '/sync/push', auth: 'user' },
      );
      const seed = Number(process.env.NEXUS_FC_SEED ?? Date.now() % 1_000_000);
      await fc.assert(
        fc.asyncProperty(endpoint, body, fc.boolean(), async (ep, payload, gzip) => {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (ep.auth === 'user') headers.authorization = `Bearer ${token}`;
          let sent: string | Uint8Array = payload;
          if (gzip) {
            headers['content-encoding'] = 'gzip';
            sent = gzipSync(typeof payload === 'string' ? Buffer.from(payload) : payload);
          }
          const res = await fetch(`${url}${ep.path}`, { method: ep.method, headers, body: sent as BodyInit });
          const text = await res.text();
          expect(res.status, `${ep.method} ${ep.path} ${text}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${ep.method} ${ep.path} ${text}`).toBeLessThan(500);
          const json = JSON.parse(text);
          expect(typeof json.error.code).toBe('string');
        }),
        { numRuns: 150, seed },
      );
      for (const q of fc.sample(fc.string(), { numRuns: 40, seed })) {
        const res = await fetch(`${url}/sync/pull?cursor=${encodeURIComponent(q)}&limit=${encodeURIComponent(q)}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, `pull ${q}`).toBeLessThan(500);
        await res.text();
      }
      expect(JSON.stringify(await client.pullAll())).toBe(before);
    });

    it('model: random batches from several clients (stale bases, replays, deletes, unique values) match a reference model', async () => {
      const { server, url } = await start({ collections: { contacts: { unique: ['u'] } } });
      type Rec = { version: number; deleted: boolean; data: Record<string, unknown> | null; hlc: string; clientId: string };
      const op = fc.record({
        client: fc.constantFrom('c1', 'c2', 'c3'),
        key: fc.constantFrom('a', 'b', 'c', 'd'),
        del: fc.boolean(),
        u: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
        base: fc.oneof(fc.constant('current' as const), fc.nat(6)),
        replay: fc.nat(20),
        isReplay: fc.boolean(),
      });
      let run = 0;
      const seed = Number(process.env.NEXUS_FC_SEED ?? Date.now() % 1_000_000);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), async (batches) => {
          run += 1;
          const client = api(url, await server.issueToken('model', { tenant: `model-${name}-${run}` }));
          const records = new Map<string, Rec>();
          const dedup = new Map<string, number>();
          const sent: any[] = [];
          let version = 0;
          let seq = 0;
          for (const batch of batches) {
            const clientId = batch[0]!.client;
            const mutations = batch.map((o) => {
              const earlier = sent.filter((m) => m.clientId === clientId);
              if (o.isReplay && earlier.length > 0) return earlier[o.replay % earlier.length];
              seq += 1;
              const data = o.del ? null : { n: seq, ...(o.u ? { u: o.u } : {}) };
              return mutation({ clientId, key: o.key, op: o.del ? 'delete' : 'upsert', data, hlc: `h${seq}`, baseVersion: o.base === 'current' ? (records.get(o.key)?.version ?? 0) : o.base });
            });
            sent.push(...mutations);
            const expected = mutations.map((m) => {
              const first = dedup.get(`${m.clientId}/${m.mutationId}`);
              if (first !== undefined) return { mutationId: m.mutationId, status: 'duplicate', version: first };
              const current = records.get(m.key);
              const asServer = (k: string, r: Rec) => ({ collection: 'contacts', key: k, version: r.version, deleted: r.deleted, data: r.data, hlc: r.hlc, fieldClocks: null, clientId: r.clientId });
              if (m.baseVersion !== (current?.version ?? 0)) return { mutationId: m.mutationId, status: 'conflict', reason: 'version', current: current ? asServer(m.key, current) : null };
              const u = m.op === 'upsert' ? (m.data as any).u : undefined;
              if (u !== undefined) {
                const holder = [...records].find(([k, r]) => k !== m.key && !r.deleted && (r.data as any)?.u === u);
                if (holder) return { mutationId: m.mutationId, status: 'conflict', reason: 'unique', field: 'u', current: asServer(holder[0], holder[1]) };
              }
              version += 1;
              records.set(m.key, { version, deleted: m.op === 'delete', data: m.op === 'delete' ? null : m.data, hlc: m.hlc, clientId: m.clientId });
              dedup.set(`${m.clientId}/${m.mutationId}`, version);
              return { mutationId: m.mutationId, status: 'applied', version };
            });
            const res = await client.push(mutations, clientId);
            expect(res.body.results).toEqual(expected);
          }
          const pulled = await client.pullAll();
          const model = [...records].sort((x, y) => x[1].version - y[1].version).map(([key, r]) => [key, r.version, r.deleted, r.data]);
          expect(pulled.map((r: any) => [r.key, r.version, r.deleted, r.data])).toEqual(model);
        }),
        { numRuns: 25, seed },
      );
    });

    it('close() lets an in-flight push finish', async () => {
      const { store } = factory.create();
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = { ...store, write: async (tenant: string, fn: any) => { entered(); await gate; return store.write(tenant, fn); } } as typeof store;
      const { server, client } = await start({}, slow);
      const pending = client.push(Array.from({ length: 20 }, () => mutation()));
      await inside;
      const closed = server.close();
      release();
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: any) => r.status)).toEqual(Array(20).fill('applied'));
      await closed;
    });

    it('answers a push cursor only when nothing else came after it, so concurrent clients that follow it miss nothing', async () => {
      const { server, url } = await start();
      const clients = 4;
      const rounds = 12;
      const results = await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          const api_ = api(url, await server.issueToken(`c${c}`, { tenant: 't1' }));
          const known = new Set<string>();
          let cursor: string | null = null;
          let advanced = 0;
          const catchUp = async () => {
            const page = await api_.pullFrom(cursor, 5);
            for (const ch of page.changes) known.add(ch.key);
            cursor = page.cursor;
          };
          for (let i = 0; i < rounds; i++) {
            const batch = [mutation({ clientId: `c${c}`, key: `c${c}-${i}` }), mutation({ clientId: `c${c}`, key: `c${c}-${i}b` })];
            const { status, body } = await api_.push(batch, `c${c}`, cursor);
            expect(status).toBe(200);
            for (const m of batch) known.add(m.key);
            if (typeof body.cursor === 'string') {
              // Vouched for: the versions after our cursor are this push's own.
              expect(Number(body.cursor)).toBe(Math.max(...body.results.map((r: any) => r.version)));
              cursor = body.cursor;
              advanced++;
            } else {
              await catchUp();
            }
          }
          return { known, advanced, catchUp };
        }),
      );
      // Once every client is done, each one catches up from its own cursor and has seen everything.
      for (const { known, catchUp } of results) {
        await catchUp();
        expect(known.size).toBe(clients * rounds * 2);
      }
      // A client alone at the end of the log gets its cursor moved at least on its first push after a catch-up.
      expect(results.reduce((n, r) => n + r.advanced, 0)).toBeGreaterThan(0);
      // A stale cursor gets no cursor back.
      const late = api(url, await server.issueToken('late', { tenant: 't1' }));
      expect((await late.push([mutation({ clientId: 'late', key: 'late-1' })], 'late', '1')).body.cursor).toBeUndefined();
    });

    it('never lets a pull skip a change committed by concurrent pushes', async () => {
      const { server, url } = await start();
      const pushers = 6;
      const perPusher = 25;
      const pushDone = Promise.all(
        Array.from({ length: pushers }, async (_, p) => {
          const c = api(url, await server.issueToken(`p${p}`, { tenant: 't1' }));
          for (let i = 0; i < perPusher; i++) {
            const res = await c.push([mutation({ clientId: `p${p}`, key: `p${p}-${i}` }), mutation({ clientId: `p${p}`, key: `p${p}-${i}b` })], `p${p}`);
            expect(res.status).toBe(200);
          }
        }),
      );
      let done = false;
      void pushDone.finally(() => (done = true));
      const pullers = Array.from({ length: 3 }, async () => api(url, await server.issueToken('reader', { tenant: 't1' })).keysSeenUntil(() => done, 7));
      const seen = await Promise.all(pullers);
      await pushDone;
      for (const s of seen) expect(s.size).toBe(pushers * perPusher * 2);
    });
  });
}
