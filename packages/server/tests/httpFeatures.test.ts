import { afterEach, describe, expect, it } from 'vitest';
import { createSyncServer, silentLogger, sqliteServerStore, type ServerTimers, type SyncServer } from '@nexus-store/server';
import { SECRET } from './helpers.js';

/** Timers that fire only when the test says so. */
function manualTimers() {
  let next = 1;
  const pending = new Map<number, { fn: () => void; ms: number; kind: 'timeout' | 'interval' }>();
  const timers: ServerTimers = {
    setTimeout: (fn, ms) => (pending.set(next, { fn, ms, kind: 'timeout' }), next++),
    clearTimeout: (h) => void pending.delete(h as number),
    setInterval: (fn, ms) => (pending.set(next, { fn, ms, kind: 'interval' }), next++),
    clearInterval: (h) => void pending.delete(h as number),
  };
  return {
    timers,
    list: () => [...pending.values()].map((p) => `${p.kind}:${p.ms}`),
    fire(kind: 'timeout' | 'interval') {
      for (const [id, p] of [...pending]) {
        if (p.kind !== kind) continue;
        if (kind === 'timeout') pending.delete(id);
        p.fn();
      }
    },
  };
}

async function readFrames(reader: ReadableStreamDefaultReader<string>, count: number): Promise<string[]> {
  const frames: string[] = [];
  let buffer = '';
  while (frames.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let i: number;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      frames.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 2);
    }
  }
  return frames;
}

describe('server HTTP features', () => {
  const servers: SyncServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function start(options: Partial<Parameters<typeof createSyncServer>[0]> = {}) {
    const server = createSyncServer({ database: sqliteServerStore({ filename: ':memory:' }), auth: { jwtSecret: SECRET }, logger: silentLogger, ...options });
    servers.push(server);
    return { server, url: (await server.listen(0, '127.0.0.1')).url };
  }

  it('event streams send heartbeats and end when the token expires', async () => {
    const clock = manualTimers();
    const now = 1_700_000_000_000;
    const { server, url } = await start({ timers: clock.timers, heartbeatMs: 1500, now: () => now, auth: { jwtSecret: SECRET, tokenTtl: 90 } });
    const token = await server.issueToken('alice', { tenant: 't1' });
    const res = await fetch(`${url}/sync/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    expect(await readFrames(reader, 2)).toEqual(['retry: 1000\n: connected', 'data: {"version":0}']);
    expect(clock.list().sort()).toEqual(['interval:1500', 'timeout:90000']);
    clock.fire('interval');
    expect(await readFrames(reader, 1)).toEqual([': ping']);
    clock.fire('timeout');
    expect(await reader.read()).toMatchObject({ done: true });
    expect(clock.list()).toEqual([]);
  });

  it('answers CORS preflights for configured origins only', async () => {
    const { url } = await start({ corsOrigins: ['https://app.example.com'] });
    const preflight = (origin: string) =>
      fetch(`${url}/sync/push`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const ok = await preflight('https://app.example.com');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-allow-headers')).toContain('authorization');
    const evil = await preflight('https://evil.example.com');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const none = await (await start()).url;
    const plain = await fetch(`${none}/health`, { headers: { origin: 'https://app.example.com' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('throttles password guessing per username, and lets the user in again after the window', async () => {
    let now = 1_700_000_000_000;
    const { server, url } = await start({ now: () => now, limits: { maxLoginFailures: 3, loginWindowMs: 60_000 } });
    await server.addUser('frank', 'correct-horse');
    const login = async (password: string) => (await fetch(`${url}/auth/login`, { method: 'POST', body: JSON.stringify({ username: 'frank', password }) })).status;
    expect([await login('guess1'), await login('guess2'), await login('guess3')]).toEqual([401, 401, 401]);
    expect(await login('correct-horse')).toBe(429);
    now += 61_000;
    expect(await login('correct-horse')).toBe(200);
  });

  it('refuses a jwtSecret shorter than 32 characters', () => {
    expect(() => createSyncServer({ database: sqliteServerStore({ filename: ':memory:' }), auth: { jwtSecret: 'short' } })).toThrow(/32 characters/);
  });
});
