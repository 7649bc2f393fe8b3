import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerPlugin, WebPlugin } from '@capacitor/core';
import { createNexus, memoryStorage, NetworkError, type Mutation } from '@nexus-store/core';
import { createMemoryRemote, createMemoryStorageState } from '@nexus-store/core/testing';
import {
  BGTaskSchedulerService,
  WorkManagerSyncService,
  capacitorSyncServices,
  type NexusBackgroundSyncPlugin,
} from '@nexus-store/capacitor';
import { createBackgroundSync, pendingPushFromStorage, type BackgroundSyncStatus, type NativeRunNowRequest, type NativeRunResult, type NativeScheduleRequest, type PushSnapshot } from '@nexus-store/background';
import { FakeNativePlatform, createManualClock } from '@nexus-store/background/testing';
import { afterEach, describe, expect, it } from 'vitest';

const MINUTE = 60_000;
const silent = { warn: () => {}, info: () => {} };
const contactSchema = {
  safeParse: (input: unknown) => ({ success: true as const, data: input as { id: string; name: string } }),
};

/** The plugin's web implementation, backed by the fake platform: what the Kotlin/Swift plugin does, per BRIDGE.md. */
class FakePlatformPlugin extends WebPlugin {
  constructor(private readonly platform: FakeNativePlatform) {
    super();
    // Native side: retain events until the web view listens (notifyListeners(..., retainUntilConsumed: true)).
    platform.bridge.onRun((event) => this.notifyListeners('run', event, true));
    platform.bridge.onExpire((event) => this.notifyListeners('expire', event, true));
  }
  schedule(options: NativeScheduleRequest) {
    return this.platform.bridge.schedule(options);
  }
  cancel(options: { taskId: string }) {
    return this.platform.bridge.cancel(options.taskId);
  }
  runNow(options: NativeRunNowRequest) {
    return this.platform.bridge.runNow(options);
  }
  complete({ runId, ...result }: { runId: string } & NativeRunResult) {
    return this.platform.bridge.complete(runId, result as NativeRunResult);
  }
  setPushSnapshot({ snapshot }: { snapshot: PushSnapshot | null }) {
    return this.platform.bridge.setPushSnapshot(snapshot);
  }
  async takeNativeRuns() {
    return { runs: await this.platform.bridge.takeNativeRuns() };
  }
}

let pluginCount = 0;
function pluginFor(platform: FakeNativePlatform): NexusBackgroundSyncPlugin {
  pluginCount += 1;
  const impl = new FakePlatformPlugin(platform);
  return registerPlugin<NexusBackgroundSyncPlugin>(`NexusBackgroundSyncTest${pluginCount}`, { web: () => impl });
}

const capacitorGlobal = (os: 'android' | 'ios') => ({ Capacitor: { isNativePlatform: () => true, getPlatform: () => os } });

describe('@nexus-store/capacitor over the plugin proxy', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('Android: the factory picks WorkManager through the plugin; runs push the outbox; a terminated app replays the push snapshot over HTTP; the next launch reconciles', async () => {
    const remote = createMemoryRemote();
    const received: { auth: string | undefined; body: { clientId: string; mutations: Mutation[] } }[] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { clientId: string; mutations: Mutation[] };
          received.push({ auth: req.headers.authorization, body });
          const results = await remote.push(body.mutations);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const pushUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync/push`;

    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const platform = new FakeNativePlatform({
      platform: 'android',
      now: clock.now,
      timers: clock,
      // The Kotlin worker without a web view: POST the stored request as is.
      replay: async (snapshot) => (await fetch(snapshot.url, { method: 'POST', headers: snapshot.headers, body: JSON.stringify(snapshot.body) })).status,
    });
    const state = createMemoryStorageState();
    const open = async () => {
      const storage = memoryStorage({ state });
      const nexus = await createNexus({ storage, remote, clientId: 'phone1', clock: { ...clock } });
      const contacts = nexus.store<{ id: string; name: string }, string>('contacts', { schema: contactSchema, key: 'id' });
      return { storage, nexus, contacts };
    };

    const app = await open();
    cleanups.push(() => app.nexus.close());
    const push = { url: pushUrl, getToken: () => 'jwt-1', pending: pendingPushFromStorage(app.storage) };
    const bg = await createBackgroundSync({
      nexus: app.nexus,
      storage: app.storage,
      services: capacitorSyncServices({ plugin: pluginFor(platform) }),
      globalObject: capacitorGlobal('android'),
      config: { minInterval: 5 * MINUTE },
      push,
      clock,
      logger: silent,
    });
    cleanups.push(() => bg.dispose());
    expect(bg.service).toBeInstanceOf(WorkManagerSyncService);
    expect(bg.service.config?.minInterval).toBe(15 * MINUTE); // raised to the floor
    const statuses: BackgroundSyncStatus[] = [];
    bg.status$.subscribe((s) => statuses.push(s));

    await app.contacts.save({ id: 'c1', name: 'Ada' });
    await clock.advance(15 * MINUTE);
    await expect.poll(() => remote.applied.map((a) => a.key)).toEqual(['c1']);
    await expect.poll(() => statuses).toEqual(['scheduled', 'running', 'completed']);
    expect(await bg.lastRun()).toMatchObject({ source: 'app', outcome: 'success', counts: { pushed: 1 } });

    await app.contacts.save({ id: 'c2', name: 'Grace' }, 'high');
    await bg.refreshPushSnapshot();
    expect(platform.snapshot?.body.mutations.map((m) => m.key)).toEqual(['c2']);

    platform.terminate(); // no web view: the native worker is on its own
    await clock.advance(15 * MINUTE);
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]).toMatchObject({ auth: 'Bearer jwt-1', body: { clientId: 'phone1', mutations: [{ key: 'c2', clientId: 'phone1', op: 'upsert', data: { id: 'c2', name: 'Grace' } }] } });
    await expect.poll(() => remote.applied.map((a) => a.key)).toEqual(['c1', 'c2']);
    // The worker records its run once the POST is answered, which comes after the server applied it.
    const replayed = () => {
      const run = platform.events.find((e) => e.type === 'run' && e.mode === 'replay');
      return run !== undefined && platform.events.some((e) => e.type === 'completed' && e.runId === (run as { runId: string }).runId);
    };
    await expect.poll(replayed).toBe(true);

    // Next launch: a new JavaScript context over the same database and plugin.
    platform.launch();
    const relaunched = await open();
    cleanups.push(() => relaunched.nexus.close());
    const bg2 = await createBackgroundSync({
      nexus: relaunched.nexus,
      storage: relaunched.storage,
      services: capacitorSyncServices({ plugin: pluginFor(platform) }),
      globalObject: capacitorGlobal('android'),
      push: { ...push, pending: pendingPushFromStorage(relaunched.storage) },
      clock,
      logger: silent,
    });
    cleanups.push(() => bg2.dispose());
    expect(await bg2.lastRun()).toMatchObject({ source: 'native', outcome: 'success', counts: { pushed: 1 } });
    const report = await relaunched.nexus.sync();
    expect(report.pushed).toBe(1); // answered 'duplicate': idempotent, not applied twice
    expect(remote.applied).toHaveLength(2);
    expect(platform.violations).toEqual([]);
  });

  it('iOS: an expiration delivered through the plugin aborts the sync and the run is retried', async () => {
    const clock = createManualClock(0);
    const platform = new FakeNativePlatform({ platform: 'ios', now: clock.now, timers: clock });
    let calls = 0;
    const nexus = {
      sync: (options?: { signal?: AbortSignal }) => {
        calls += 1;
        if (calls > 1) return Promise.resolve({ pushed: 0, pulled: 0, conflicts: 0, rejected: 0 });
        return new Promise((_, reject) => options?.signal?.addEventListener('abort', () => reject(new NetworkError('ABORTED', 'aborted'))));
      },
    };
    const bg = await createBackgroundSync({
      nexus,
      services: capacitorSyncServices({ plugin: pluginFor(platform) }),
      globalObject: capacitorGlobal('ios'),
      config: { backoff: { initialDelay: MINUTE, jitter: 0 } },
      clock,
      logger: silent,
    });
    cleanups.push(() => bg.dispose());
    expect(bg.service).toBeInstanceOf(BGTaskSchedulerService);
    await clock.advance(15 * MINUTE + 30_000);
    await expect.poll(() => platform.events.filter((e) => e.type === 'completed').map((e) => (e.type === 'completed' ? e.result : ''))).toEqual(['retry']);
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', error: { code: 'ABORTED' } });
    await clock.advance(MINUTE);
    await expect.poll(() => bg.service.status).toBe('completed');
    expect(calls).toBe(2);
    expect(platform.maxPendingRequests).toBe(1);
    expect(platform.violations).toEqual([]);
  });
});
