import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthError, CursorExpiredError, NetworkError, type MutationResult, type NexusError, type RemotePoke } from '@nexus-store/core';
import { httpRemote } from '@nexus-store/http';
import { manualTimers, mutation, startServer, tinyServer, until } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer(options);
  cleanups.push(s.close);
  return s;
}

async function tiny(handle: Parameters<typeof tinyServer>[0]) {
  const s = await tinyServer(handle);
  cleanups.push(s.close);
  return s;
}

async function caught(promise: Promise<unknown>): Promise<NexusError> {
  try {
    await promise;
  } catch (error) {
    return error as NexusError;
  }
  throw new Error('expected a rejection');
}

/** A fetch that records each request's Content-Encoding (null when there is none), in order. */
function recordEncodings(): { encodings: Array<string | null>; recording: typeof fetch } {
  const encodings: Array<string | null> = [];
  const recording: typeof fetch = (input, init) => {
    encodings.push(new Headers(init?.headers).get('content-encoding'));
    return fetch(input, init);
  };
  return { encodings, recording };
}

describe('httpRemote against a real sync server', () => {
  it('pushes and pulls the protocol shapes; a replayed push is a duplicate applied once', async () => {
    const { url, token } = await server();
    const remote = httpRemote({ url, token });
    const a = mutation({ key: 'a', data: { name: 'Ann' } });
    expect(await remote.push([a])).toEqual([{ mutationId: a.mutationId, status: 'applied', version: 1 }]);
    expect(await remote.push([a])).toEqual([{ mutationId: a.mutationId, status: 'duplicate', version: 1 }]);
    expect(await remote.push([])).toEqual([]);
    const page = await remote.pull(null, 10);
    expect(page).toEqual({ changes: [expect.objectContaining({ key: 'a', version: 1, data: { name: 'Ann' }, deleted: false })], cursor: '1', hasMore: false });
    expect(await remote.pull(page.cursor, 10)).toEqual({ changes: [], cursor: '1', hasMore: false });
  });

  it('sends the pull cursor with a push; the server answers the cursor past the push only when nothing else came after it', async () => {
    const { url, token } = await server();
    const remote = httpRemote({ url, token });
    expect(await remote.push([mutation({ key: 'a' })], { cursor: null })).toEqual({ results: [expect.objectContaining({ status: 'applied', version: 1 })], cursor: '1' });
    // Another push came in between (version 2): a client still at cursor 1 gets no cursor and must pull.
    await remote.push([mutation({ key: 'b' })]);
    expect(await remote.push([mutation({ key: 'c' })], { cursor: '1' })).toEqual([expect.objectContaining({ status: 'applied', version: 3 })]);
    expect(await remote.push([mutation({ key: 'd' }), mutation({ key: 'e' })], { cursor: '3' })).toEqual({ results: [expect.objectContaining({ version: 4 }), expect.objectContaining({ version: 5 })], cursor: '5' });
    // A push that changes nothing (a duplicate) from an up-to-date cursor keeps it where it is.
    const again = mutation({ key: 'f' });
    await remote.push([again], { cursor: '5' });
    expect(await remote.push([again], { cursor: '6' })).toEqual({ results: [expect.objectContaining({ status: 'duplicate', version: 6 })], cursor: '6' });
    await expect(remote.push([mutation({ key: 'g' })], { cursor: 'abc' })).rejects.toMatchObject({ code: 'PROTOCOL', status: 400, message: expect.stringContaining('cursor') });
  });

  it('asks for a compact answer: a batch applied whole comes back as its first version and count, read as one result per mutation', async () => {
    const { url, token } = await server();
    const answers: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST') answers.push(await response.clone().text());
      return response;
    };
    const remote = httpRemote({ url, token, fetch: recording });
    const [a, b] = [mutation({ key: 'a' }), mutation({ key: 'b' })];
    expect(await remote.push([a, b], { cursor: null })).toEqual({
      results: [
        { mutationId: a.mutationId, status: 'applied', version: 1 },
        { mutationId: b.mutationId, status: 'applied', version: 2 },
      ],
      cursor: '2',
    });
    // A replay is not applied whole: every result comes back.
    expect(await remote.push([a, mutation({ key: 'c' })])).toEqual([
      { mutationId: a.mutationId, status: 'duplicate', version: 1 },
      expect.objectContaining({ status: 'applied', version: 3 }),
    ]);
    expect(answers.map((text) => Object.keys(JSON.parse(text) as object))).toEqual([['applied', 'cursor'], ['results']]);
  });

  it('refuses a compact answer that does not cover the push as PROTOCOL', async () => {
    for (const applied of [{ version: 5, count: 3 }, { version: 0, count: 2 }, { version: 1.5, count: 2 }, { count: 2 }, 'all']) {
      const wrong = await tiny((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ applied })));
      const error = await caught(httpRemote({ url: wrong.url, token: 't' }).push([mutation({ key: 'a' }), mutation({ key: 'b' })]));
      expect([error.code, error.retryable]).toEqual(['PROTOCOL', false]);
    }
  });

  it('gzips large push bodies and the server accepts them', async () => {
    const { url, token } = await server();
    const { encodings, recording } = recordEncodings();
    const remote = httpRemote({ url, token, fetch: recording, gzipThresholdBytes: 2048 });
    const big = Array.from({ length: 40 }, (_, i) => mutation({ key: `big${i}`, data: { note: 'lorem ipsum '.repeat(20) } }));
    expect(((await remote.push(big)) as MutationResult[]).map((r) => r.status)).toEqual(Array(40).fill('applied'));
    await remote.push([mutation()]);
    expect(encodings).toEqual(['gzip', null]);
  });

  it('sends a batch encoded ahead by preparePush, and the cursor in the query so that the body does not depend on it', async () => {
    const { url, token } = await server();
    const sent: Array<{ url: string; body: string }> = [];
    const recording: typeof fetch = (input, init) => {
      if (init?.method === 'POST') sent.push({ url: String(input), body: String(init.body) });
      return fetch(input, init);
    };
    const remote = httpRemote({ url, token, fetch: recording });
    const batch = [mutation({ key: 'p', data: { name: 'prepared' } })];
    remote.preparePush!(batch);
    // Encoded when prepared: a change made afterwards does not travel.
    batch[0]!.data = { name: 'changed later' };
    expect(await remote.push(batch, { cursor: null })).toEqual({ results: [expect.objectContaining({ status: 'applied', version: 1 })], cursor: '1' });
    // Used once: pushed again, the array is encoded afresh.
    await remote.push(batch, { cursor: '1' });
    expect(sent.map((r) => [new URL(r.url).search, (JSON.parse(r.body) as { mutations: Array<{ data: unknown }>; cursor?: unknown }).mutations[0]!.data])).toEqual([
      ['?answer=compact&cursor=null', { name: 'prepared' }],
      ['?answer=compact&cursor=1', { name: 'changed later' }],
    ]);
    expect(sent.every((r) => !('cursor' in JSON.parse(r.body)))).toBe(true);
    expect((await remote.pull(null, 10)).changes.map((c) => c.data)).toEqual([{ name: 'prepared' }]);
  });

  it('leaves null changedFields, fieldClocks and txId out of the body, and sends them when set', async () => {
    const { url, token } = await server();
    const bodies: Array<{ mutations: Array<Record<string, unknown>> }> = [];
    const recording: typeof fetch = (input, init) => {
      if (init?.method === 'POST') bodies.push(JSON.parse(String(init.body)));
      return fetch(input, init);
    };
    const remote = httpRemote({ url, token, fetch: recording });
    const plain = mutation({ key: 'plain', changedFields: null, fieldClocks: null, txId: null });
    const full = mutation({ key: 'full', data: { name: 'F' }, changedFields: ['name'], fieldClocks: { name: 'h9' }, txId: 'tx-1' });
    expect(((await remote.push([plain, full])) as MutationResult[]).map((r) => r.status)).toEqual(['applied', 'applied']);
    const [sentPlain, sentFull] = bodies[0]!.mutations;
    expect(Object.keys(sentPlain!).filter((k) => ['changedFields', 'fieldClocks', 'txId'].includes(k))).toEqual([]);
    expect(sentFull).toMatchObject({ changedFields: ['name'], fieldClocks: { name: 'h9' }, txId: 'tx-1' });
    const pulled = (await remote.pull(null, 10)).changes;
    expect(pulled.map((c) => [c.key, c.fieldClocks])).toEqual([['plain', null], ['full', { name: 'h9' }]]);
  });

  it('measures the threshold in UTF-8 bytes: a body of fewer characters but more bytes than it is gzipped', async () => {
    const { url, token } = await server();
    const { encodings, recording } = recordEncodings();
    const remote = httpRemote({ url, token, fetch: recording, gzipThresholdBytes: 2048 });
    const accented = mutation({ key: 'accented', data: { note: 'é'.repeat(1000) } });
    expect(JSON.stringify(accented).length).toBeLessThan(2048);
    expect(new TextEncoder().encode(JSON.stringify(accented)).byteLength).toBeGreaterThan(2048);
    await remote.push([accented]);
    await remote.push([mutation({ key: 'plain', data: { note: 'a'.repeat(1000) } })]);
    expect(encodings).toEqual(['gzip', null]);
    expect(await remote.pull(null, 10)).toMatchObject({ changes: expect.arrayContaining([expect.objectContaining({ key: 'accented', data: { note: 'é'.repeat(1000) } })]) });
  });

  it('gzips with CompressionStream where the runtime has no node:zlib (browsers, React Native)', async () => {
    const { url, token } = await server();
    const lookup = vi.spyOn(process, 'getBuiltinModule').mockReturnValue(undefined);
    try {
      const sizes: number[] = [];
      const recording: typeof fetch = (input, init) => {
        if (new Headers(init?.headers).get('content-encoding') === 'gzip') sizes.push((init?.body as Uint8Array).byteLength);
        return fetch(input, init);
      };
      const remote = httpRemote({ url, token, fetch: recording, gzipThresholdBytes: 2048 });
      const big = Array.from({ length: 40 }, (_, i) => mutation({ key: `cs${i}`, data: { note: 'lorem ipsum '.repeat(20) } }));
      expect(((await remote.push(big)) as MutationResult[]).map((r) => r.status)).toEqual(Array(40).fill('applied'));
      expect(lookup).toHaveBeenCalledWith('node:zlib');
      expect(sizes).toHaveLength(1);
      expect(sizes[0]).toBeLessThan(JSON.stringify(big).length / 4);
    } finally {
      lookup.mockRestore();
    }
  });

  it('on 401 asks getToken for a fresh token once and retries; a second 401 is AuthError AUTH', async () => {
    const { url, token } = await server();
    const calls: boolean[] = [];
    const remote = httpRemote({ url, getToken: ({ forceRefresh }) => (calls.push(forceRefresh), forceRefresh ? token : 'stale-token') });
    expect((await remote.pull(null, 5)).changes).toEqual([]);
    expect(calls).toEqual([false, true]);

    const refreshCalls: boolean[] = [];
    const hopeless = httpRemote({ url, getToken: ({ forceRefresh }) => (refreshCalls.push(forceRefresh), 'still-bad') });
    const error = await caught(hopeless.push([mutation()]));
    expect(error).toBeInstanceOf(AuthError);
    expect([error.code, error.retryable, (error as AuthError).status]).toEqual(['AUTH', false, 401]);
    expect(refreshCalls).toEqual([false, true]);
    const fixed = await caught(httpRemote({ url, token: 'nope' }).pull(null, 1));
    expect(fixed.code).toBe('AUTH');
  });

  it('maps an expired cursor to CursorExpiredError', async () => {
    let now = 1_000_000;
    const { url, token, server: s } = await server({ now: () => now });
    const remote = httpRemote({ url, token });
    const a = mutation({ key: 'x' });
    await remote.push([a, mutation({ key: 'y' })]);
    await remote.push([mutation({ key: 'x', op: 'delete', data: null, baseVersion: 1 })]);
    now += 10_000;
    await s.compact({ olderThanMs: 1000 });
    const error = await caught(remote.pull('1', 10));
    expect(error).toBeInstanceOf(CursorExpiredError);
    expect(error.code).toBe('CURSOR_EXPIRED');
    expect((await remote.pull(null, 10)).changes.map((c) => c.key)).toEqual(['y']);
  });

  it('classifies refusals: 4xx PROTOCOL with the server message (not retryable), 403 FORBIDDEN', async () => {
    const { url, token } = await server({ limits: { maxKeyLength: 4 } });
    const remote = httpRemote({ url, token });
    const error = await caught(remote.push([mutation({ key: 'much-too-long' })]));
    expect(error).toBeInstanceOf(NetworkError);
    expect([error.code, error.retryable, (error as NetworkError).status]).toEqual(['PROTOCOL', false, 400]);
    expect(error.message).toContain('KEY_TOO_LONG');
    const forbidden = await tiny((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":{"code":"FORBIDDEN","message":"no"}}'));
    expect((await caught(httpRemote({ url: forbidden.url, token }).pull(null, 1))).code).toBe('FORBIDDEN');
  });
});

describe('httpRemote failures', () => {
  it('classifies 5xx and 429 as SERVER (retryable), whatever the body', async () => {
    const statuses = [503, 500, 502, 429];
    let i = 0;
    const failing = await tiny((_req, res) => {
      const status = statuses[i++ % statuses.length]!;
      if (status === 502) res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
      else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'DOWN', message: 'maintenance' } }));
    });
    const remote = httpRemote({ url: failing.url, token: 't' });
    for (const status of statuses) {
      const error = await caught(status % 2 ? remote.pull(null, 1) : remote.push([mutation()]));
      expect([error.code, error.retryable, (error as NetworkError).status]).toEqual(['SERVER', true, status]);
    }
  });

  it('answers PROTOCOL for a 200 that is not the protocol', async () => {
    const odd = await tiny((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>captive portal</html>'));
    const error = await caught(httpRemote({ url: odd.url, token: 't' }).pull(null, 1));
    expect([error.code, error.retryable]).toEqual(['PROTOCOL', false]);
    const short = await tiny((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[]}'));
    expect((await caught(httpRemote({ url: short.url, token: 't' }).push([mutation()]))).code).toBe('PROTOCOL');
  });

  it('times out (injected timer) with TIMEOUT, and a network failure is NETWORK', async () => {
    const hanging = await tiny(() => undefined);
    const clock = manualTimers();
    const remote = httpRemote({ url: hanging.url, token: 't', timeoutMs: 1234, timers: clock.timers });
    const pending = caught(remote.push([mutation()]));
    await until(() => hanging.requests() === 1);
    expect(clock.pending()).toEqual([1234]);
    clock.fire();
    const error = await pending;
    expect([error.code, error.retryable]).toEqual(['TIMEOUT', true]);
    expect(clock.pending()).toEqual([]);

    const gone = await tinyServer(() => undefined);
    await gone.close();
    const offline = await caught(httpRemote({ url: gone.url, token: 't' }).pull(null, 1));
    expect(offline).toBeInstanceOf(NetworkError);
    expect([offline.code, offline.retryable]).toEqual(['NETWORK', true]);
  });

  it('a caller abort is ABORTED, not retried as a network failure', async () => {
    const hanging = await tiny(() => undefined);
    const controller = new AbortController();
    const pending = caught(httpRemote({ url: hanging.url, token: 't' }).pull(null, 1, { signal: controller.signal }));
    await until(() => hanging.requests() === 1);
    controller.abort();
    expect((await pending).code).toBe('ABORTED');
  });
});

describe('httpRemote pushes over node:http when no fetch is given', () => {
  it('pushes through node:http (not fetch), and a cancelled or unreachable push is ABORTED or NETWORK', async () => {
    const { url, token } = await server();
    const lookup = vi.spyOn(process, 'getBuiltinModule');
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    try {
      const remote = httpRemote({ url, token });
      expect(lookup).toHaveBeenCalledWith('node:http');
      expect(((await remote.push([mutation(), mutation()])) as MutationResult[]).map((r) => r.status)).toEqual(['applied', 'applied']);
      expect(fetchSpy).not.toHaveBeenCalled();
      expect((await remote.pull(null, 10)).changes).toHaveLength(2); // pulls stay on fetch
      expect(fetchSpy).toHaveBeenCalledTimes(1);
    } finally {
      lookup.mockRestore();
      fetchSpy.mockRestore();
    }

    const hanging = await tiny(() => undefined);
    const controller = new AbortController();
    const pending = caught(httpRemote({ url: hanging.url, token: 't' }).push([mutation()], { signal: controller.signal }));
    await until(() => hanging.requests() === 1);
    controller.abort();
    expect((await pending).code).toBe('ABORTED');
    const early = new AbortController();
    early.abort();
    expect((await caught(httpRemote({ url: hanging.url, token: 't' }).push([mutation()], { signal: early.signal }))).code).toBe('ABORTED');

    const gone = await tinyServer(() => undefined);
    await gone.close();
    const offline = await caught(httpRemote({ url: gone.url, token: 't' }).push([mutation()]));
    expect([offline.code, offline.retryable]).toEqual(['NETWORK', true]);

    // A connection that closes halfway through the answer is a network failure too.
    const cut = await tiny((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"results":[');
      setTimeout(() => res.destroy(), 10);
    });
    const broken = await caught(httpRemote({ url: cut.url, token: 't' }).push([mutation()]));
    expect([broken.code, broken.retryable]).toEqual(['NETWORK', true]);
  });
});

describe('httpRemote.subscribe (server-sent events)', () => {
  it('calls onPoke when another client pushes', async () => {
    const { url, token } = await server();
    const pokes: RemotePoke[] = [];
    const stop = httpRemote({ url, token }).subscribe((p) => pokes.push(p));
    cleanups.push(stop);
    await until(() => pokes.length >= 1); // the connect poke
    await httpRemote({ url, token }).push([mutation(), mutation()]);
    await until(() => pokes.some((p) => p.version === 2));
    expect(pokes[0]).toEqual({ version: 0 });
  });

  it('reconnects with growing, jittered backoff on injected timers, then receives pokes', async () => {
    const { url, token } = await server();
    const clock = manualTimers();
    let failures = 3;
    const flaky: typeof fetch = (input, init) => (failures-- > 0 ? Promise.reject(new TypeError('connection refused')) : fetch(input, init));
    const errors: string[] = [];
    const pokes: RemotePoke[] = [];
    const stop = httpRemote({ url, token, fetch: flaky, timers: clock.timers, random: () => 0.5, reconnect: { initialDelayMs: 100, maxDelayMs: 250 }, onStreamError: (e) => errors.push(e.code) })
      .subscribe((p) => pokes.push(p));
    cleanups.push(stop);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await until(() => clock.pending().some((ms) => ms !== 30_000));
      const backoff = clock.pending().filter((ms) => ms !== 30_000);
      delays.push(...backoff);
      clock.fire((ms) => ms !== 30_000);
    }
    // ceiling 100, 200, 250 (capped); delay = ceiling/2 + random*ceiling/2 with random 0.5
    expect(delays).toEqual([75, 150, 187.5]);
    expect(errors).toEqual(['NETWORK', 'NETWORK', 'NETWORK']);
    await until(() => pokes.length >= 1);
    await httpRemote({ url, token }).push([mutation()]);
    await until(() => pokes.some((p) => p.version === 1));
  });

  it('reconnects after the server ends the stream, resets the backoff, and stops on unsubscribe', async () => {
    const clock = manualTimers();
    let connections = 0;
    const ending: typeof fetch = async (_input, init) => {
      connections += 1;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode(`: hi\r\n\r\nevent: message\r\ndata: {"version":${connections}}\r\n\r\nevent: other\ndata: x\n\n`));
          if (connections === 1) c.close();
          else init?.signal?.addEventListener('abort', () => c.error(new Error('aborted')));
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    };
    const pokes: RemotePoke[] = [];
    const errors: string[] = [];
    const stop = httpRemote({ url: 'http://sync.invalid', token: 't', fetch: ending, timers: clock.timers, random: () => 0, reconnect: { initialDelayMs: 40 }, onStreamError: (e) => errors.push(e.code) }).subscribe((p) => pokes.push(p));
    await until(() => clock.pending().includes(20));
    expect(pokes).toEqual([{ version: 1 }]);
    expect(errors).toEqual(['NETWORK']);
    clock.fire((ms) => ms === 20);
    await until(() => pokes.length === 2);
    expect(pokes[1]).toEqual({ version: 2 });
    stop();
    await new Promise((r) => setImmediate(r));
    expect(clock.pending()).toEqual([]);
    expect(connections).toBe(2);
  });
});
