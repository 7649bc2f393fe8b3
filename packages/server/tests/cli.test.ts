import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDuration, runCli, type CliIo } from '@nexus-store/server/cli';
import { mutation } from './helpers.js';

function io(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = { env, stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
  return { io: value, out, err };
}

describe('nexus-store-server CLI', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dbFile = () => {
    const d = mkdtempSync(join(tmpdir(), 'nexus-cli-'));
    dirs.push(d);
    return join(d, 'data.db');
  };

  it('user add, then serve: the user logs in and syncs; logs are JSON lines', async () => {
    const db = dbFile();
    const add = io();
    expect((await runCli(['user', 'add', 'erin', '--password', 'erin-password', '--tenant', 'acme', '--db', db], add.io)).code).toBe(0);
    expect(JSON.parse(add.out[0]!)).toMatchObject({ event: 'user_added', username: 'erin', tenant: 'acme' });
    const run = io({ NEXUS_JWT_SECRET: 's'.repeat(40) });
    const { code, server, url } = await runCli(['serve', '--db', db, '--port', '0', '--host', '127.0.0.1'], run.io);
    expect(code).toBe(0);
    try {
      const login = await fetch(`${url}/auth/login`, { method: 'POST', body: JSON.stringify({ username: 'erin', password: 'erin-password' }) });
      const { token } = (await login.json()) as { token: string };
      const push = await fetch(`${url}/sync/push`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ clientId: 'client-a', mutations: [mutation()] }) });
      expect(push.status).toBe(200);
    } finally {
      await server!.close();
    }
    const events = run.out.map((l) => JSON.parse(l) as { event: string; level: string });
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['listening', 'login', 'push', 'closed']));
  });

  it('compact --older-than reports what it removed', async () => {
    const db = dbFile();
    const r = io();
    expect((await runCli(['compact', '--older-than', '30d', '--db', db], r.io)).code).toBe(0);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ event: 'compacted', olderThanMs: 30 * 86_400_000, tombstones: 0, dedup: 0 });
  });

  it('refuses bad usage with exit code 2 and a message', async () => {
    const cases: string[][] = [[], ['serve', '--durability', 'maybe', '--db', 'x.db'], ['serve', '--db', 'x.db'], ['user', 'add', 'x', '--db', 'x.db'], ['compact', '--older-than', 'soon', '--db', 'x.db'], ['frobnicate', '--db', 'x.db'], ['serve', '--bogus']];
    for (const argv of cases) {
      const r = io();
      expect((await runCli(argv, r.io)).code).toBe(2);
      expect(r.err.join('') + r.out.join('')).not.toBe('');
    }
    expect([parseDuration('15m'), parseDuration('2h'), parseDuration('500'), parseDuration('x')]).toEqual([900_000, 7_200_000, 500, null]);
  });
});
