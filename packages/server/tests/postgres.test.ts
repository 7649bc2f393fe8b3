import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createSyncServer, silentLogger, type SyncServer } from '@nexus-store/server';
import { runCli } from '@nexus-store/server/cli';
import { api, mutation, PG_URL, postgresAvailable, postgresFactory, SECRET, waitForPoke } from './helpers.js';
import { runServerSuite } from './serverSuite.js';

const available = await postgresAvailable();

describe.skipIf(!available)('PostgreSQL (postgres://postgres@127.0.0.1:5432/test, one schema per run, dropped after)', () => {
  runServerSuite('PostgreSQL', postgresFactory());

  it('CLI: user add and serve with --db postgres://... --schema', async () => {
    const factory = postgresFactory();
    const { schema } = factory.create();
    const out: string[] = [];
    const io = { env: { NEXUS_JWT_SECRET: 's'.repeat(40) }, stdout: (l: string) => out.push(l), stderr: (l: string) => out.push(l) };
    try {
      expect((await runCli(['user', 'add', 'gina', '--password', 'gina-password', '--tenant', 'pg', '--db', PG_URL, '--schema', schema], io)).code).toBe(0);
      const { server, url } = await runCli(['serve', '--db', PG_URL, '--schema', schema, '--port', '0', '--host', '127.0.0.1'], io);
      try {
        const login = await fetch(`${url}/auth/login`, { method: 'POST', body: JSON.stringify({ username: 'gina', password: 'gina-password' }) });
        expect(login.status).toBe(200);
        expect(((await (await fetch(`${url}/health`)).json()) as { store: string }).store).toBe('postgres');
      } finally {
        await server!.close();
      }
      expect((await runCli(['compact', '--older-than', '1d', '--db', PG_URL, '--schema', schema], io)).code).toBe(0);
    } finally {
      await factory.cleanup();
    }
  });

  describe('several server instances over one database', () => {
    const factory = postgresFactory();
    const servers: SyncServer[] = [];
    afterAll(async () => {
      await Promise.all(servers.splice(0).map((s) => s.close()));
      await factory.cleanup();
    });

    async function instances(count: number) {
      const { store, again, schema } = factory.create();
      const out: Array<{ server: SyncServer; url: string; schema: string }> = [];
      for (let i = 0; i < count; i++) {
        const server = createSyncServer({ database: i === 0 ? store : again({ listenRetryMs: 20 }), auth: { jwtSecret: SECRET }, logger: silentLogger });
        servers.push(server);
        out.push({ server, url: (await server.listen(0, '127.0.0.1')).url, schema });
      }
      return out;
    }

    it('a push on instance A pokes a client subscribed to instance B (LISTEN/NOTIFY)', async () => {
      const [a, b] = await instances(2);
      const token = await a!.server.issueToken('alice', { tenant: 't1' });
      const started = Date.now();
      const poke = await waitForPoke(b!.url, token, (d) => d.version >= 1, () => api(a!.url, token).push([mutation()]).then(() => undefined));
      expect(poke).toEqual({ version: 1 });
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('an instance whose LISTEN connection dies reconnects and receives pokes again', async () => {
      const [a, b] = await instances(2);
      const token = await a!.server.issueToken('alice', { tenant: 't1' });
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        // Both instances LISTEN on one channel; kill every such connection, then B must come back by itself.
        const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`nexus-store-listen-${b!.schema}`]);
        expect(killed.rowCount).toBe(2);
      } finally {
        await admin.end();
      }
      let version = 0;
      let poke: { version: number } | undefined;
      for (let attempt = 0; attempt < 50 && !poke; attempt++) {
        version += 1;
        poke = await waitForPoke(b!.url, token, (d) => d.version >= version, () => api(a!.url, token).push([mutation()]).then(() => undefined), 300).catch(() => undefined);
      }
      expect(poke?.version).toBe(version);
      expect(version).toBeGreaterThan(0);
    });

    it('concurrent pushers on three instances: versions are dense, and pullers on every instance miss nothing', async () => {
      const nodes = await instances(3);
      const token = await nodes[0]!.server.issueToken('alice', { tenant: 'busy' });
      const pushers = 9;
      const perPusher = 20;
      let done = false;
      const pushing = Promise.all(
        Array.from({ length: pushers }, async (_, p) => {
          const c = api(nodes[p % 3]!.url, token);
          for (let i = 0; i < perPusher; i++) {
            const res = await c.push([mutation({ clientId: `p${p}`, key: `p${p}-${i}` }), mutation({ clientId: `p${p}`, key: `p${p}-${i}-b` })], `p${p}`);
            expect(res.status).toBe(200);
          }
        }),
      ).finally(() => (done = true));
      const pulling = nodes.map((node) => api(node.url, token).keysSeenUntil(() => done, 5));
      const seen = await Promise.all(pulling);
      await pushing;
      for (const s of seen) expect(s.size).toBe(pushers * perPusher * 2);
      const all = await api(nodes[1]!.url, token).pullAll();
      expect(all.map((r: any) => r.version)).toEqual(Array.from({ length: pushers * perPusher * 2 }, (_, i) => i + 1));
    });
  });
});
