import { createNexus, memoryStorage, NetworkError } from '@nexus-store/core';
import { createMemoryRemote, createMemoryStorageState, createFaultyRemote } from '@nexus-store/core/testing';
import { BGTaskSchedulerService, WorkManagerSyncService, createReactNativeBridge, reactNativeSyncServices, registerHeadlessSyncTask } from '@nexus-store/react-native';
import { createBackgroundSync, createSyncTask, type BackgroundSyncStatus } from '@nexus-store/background';
import { FakeNativePlatform } from '@nexus-store/background/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeAppRegistry, fakeReactNative } from './fakeReactNative.js';

const MINUTE = 60_000;
const silent = { warn: () => {}, info: () => {} };
const rnGlobal = { navigator: { product: 'ReactNative' } };
const schema = { safeParse: (input: unknown) => ({ success: true as const, data: input as { id: string; name: string } }) };

async function openNexus(state: ReturnType<typeof createMemoryStorageState>, remote: Parameters<typeof createNexus>[0]['remote']) {
  const storage = memoryStorage({ state });
  const nexus = await createNexus({ storage, remote, clientId: 'rn1' });
  const contacts = nexus.store<{ id: string; name: string }, string>('contacts', { schema, key: 'id' });
  return { storage, nexus, contacts };
}

describe('@nexus-store/react-native', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('on Android the factory picks WorkManager through the native module; runs push the outbox', async () => {
    const platform = new FakeNativePlatform({ platform: 'android' });
    const remote = createMemoryRemote();
    const app = await openNexus(createMemoryStorageState(), remote);
    const bg = await createBackgroundSync({
      nexus: app.nexus,
      storage: app.storage,
      services: reactNativeSyncServices({ reactNative: fakeReactNative(platform, 'android') }),
      globalObject: rnGlobal,
      config: 'aggressive',
      logger: silent,
    });
    expect(bg.service).toBeInstanceOf(WorkManagerSyncService);
    const statuses: BackgroundSyncStatus[] = [];
    bg.status$.subscribe((s) => statuses.push(s));
    await app.contacts.save({ id: 'c1', name: 'Ada' });
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(remote.applied.map((a) => a.key)).toEqual(['c1']);
    expect(statuses).toEqual(['scheduled', 'running', 'completed']);
    await bg.cancelSync();
    expect(platform.pending()).toEqual([]);
    await bg.dispose();
    await app.nexus.close();
  });

  it('Android headless JS: while terminated, WorkManager starts the headless task, which syncs with a fresh nexus and retries up to maxRetries', async () => {
    const platform = new FakeNativePlatform({ platform: 'android', whenTerminated: 'headless' });
    const state = createMemoryStorageState();
    const remote = createMemoryRemote();
    let failPushes = 2;
    const flaky = {
      push: (mutations: Parameters<typeof remote.push>[0]) => (failPushes-- > 0 ? Promise.reject(new NetworkError('SERVER', 'HTTP 503')) : remote.push(mutations)),
      pull: remote.pull.bind(remote),
    };
    const app = await openNexus(state, flaky);
    const config = { maxRetries: 3, backoff: { initialDelay: 30_000, jitter: 0 } };
    const bg = await createBackgroundSync({ nexus: app.nexus, services: reactNativeSyncServices({ reactNative: fakeReactNative(platform, 'android') }), globalObject: rnGlobal, config, logger: silent });
    await app.contacts.save({ id: 'c1', name: 'Ada' });
    await bg.dispose();
    await app.nexus.close();
    platform.terminate();

    // index.js of the headless context registers the task; no UI code runs there.
    const headlessRN = fakeReactNative(platform, 'android');
    const appRegistry = fakeAppRegistry(platform);
    registerHeadlessSyncTask(appRegistry, {
      bridge: createReactNativeBridge(headlessRN),
      config,
      logger: silent,
      createTask: async () => {
        const headless = await openNexus(state, flaky);
        const task = createSyncTask(headless.nexus);
        // The headless context ends with the run.
        return { taskId: task.taskId, execute: (context) => task.execute(context).finally(() => headless.nexus.close()) };
      },
    });
    expect(appRegistry.names).toEqual(['NexusBackgroundSync']);
    await vi.advanceTimersByTimeAsync(15 * MINUTE); // attempt 0 fails
    await vi.advanceTimersByTimeAsync(30_000); // native backoff 30 s: attempt 1 fails
    await vi.advanceTimersByTimeAsync(60_000); // 60 s: attempt 2 succeeds
    expect(remote.applied.map((a) => a.key)).toEqual(['c1']);
    const runs = platform.events.filter((e) => e.type === 'run');
    expect(runs.map((e) => (e.type === 'run' ? [e.mode, e.attempt] : []))).toEqual([
      ['headless', 0],
      ['headless', 1],
      ['headless', 2],
    ]);
    expect(platform.events.filter((e) => e.type === 'completed').map((e) => (e.type === 'completed' ? e.result : ''))).toEqual(['retry', 'retry', 'success']);
    expect(platform.violations).toEqual([]);
  });

  it('on iOS the factory picks BGTaskScheduler; a run that iOS expires is aborted and retried, with one pending request at a time', async () => {
    const platform = new FakeNativePlatform({ platform: 'ios', appRefreshBudgetMs: 30_000 });
    const server = createMemoryRemote();
    const remote = createFaultyRemote(server, { random: () => 0.5, delay: () => new Promise((resolve) => setTimeout(resolve, 45_000)) });
    const app = await openNexus(createMemoryStorageState(), remote);
    const bg = await createBackgroundSync({
      nexus: app.nexus,
      services: reactNativeSyncServices({ reactNative: fakeReactNative(platform, 'ios') }),
      globalObject: rnGlobal,
      config: { backoff: { initialDelay: MINUTE, jitter: 0 } },
      logger: silent,
    });
    expect(bg.service).toBeInstanceOf(BGTaskSchedulerService);
    await app.contacts.save({ id: 'c1', name: 'Ada' });
    await vi.advanceTimersByTimeAsync(15 * MINUTE + 30_000);
    // The delayed push honours the AbortSignal (as httpRemote does), so the expired run winds down
    // at once: answered inside the native grace, counted as a retry, nothing half-applied.
    expect(platform.events.map((e) => e.type)).toEqual(['scheduled', 'run', 'expired', 'completed', 'scheduled']);
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', error: { code: 'ABORTED' } });
    expect(bg.service.status).toBe('scheduled');
    expect(platform.pending()).toEqual([expect.objectContaining({ kind: 'appRefresh', attempt: 1 })]);
    expect(platform.maxPendingRequests).toBe(1);
    expect(platform.violations).toEqual([]);
    expect(server.applied).toEqual([]);
    expect((await app.nexus.pending()).map((p) => p.status)).toEqual(['pending']);
    await bg.dispose();
    await app.nexus.close();
  });

  it('explains a missing native module', () => {
    expect(() => createReactNativeBridge({ NativeModules: {}, NativeEventEmitter: class {} as never, Platform: { OS: 'android' } })).toThrow(/rebuild the app/);
    expect(reactNativeSyncServices({ reactNative: { NativeModules: {}, NativeEventEmitter: class {} as never, Platform: { OS: 'web' } } })).toEqual({});
  });
});
