import { NetworkError } from '@nexus-store/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BGTaskSchedulerService,
  WorkManagerSyncService,
  createNativeRunHandler,
  type BackgroundSyncRunContext,
  type BackgroundSyncTask,
} from '@nexus-store/background';
import { FakeNativePlatform } from '@nexus-store/background/testing';
import { recordStatuses, silentLogger } from './helpers.js';

const MINUTE = 60_000;

interface ScriptedTask extends BackgroundSyncTask {
  contexts: BackgroundSyncRunContext[];
}

/** A task whose runs follow a script: 'ok', 'fail' or 'hang' (until aborted). */
function scriptedTask(script: ('ok' | 'fail' | 'hang')[], fallback: 'ok' | 'fail' = 'ok'): ScriptedTask {
  const contexts: BackgroundSyncRunContext[] = [];
  return {
    taskId: 'nexus-store.sync',
    contexts,
    async execute(context) {
      contexts.push(context);
      const step = script.shift() ?? fallback;
      if (step === 'ok') return true;
      if (step === 'fail') throw new NetworkError('NETWORK', 'server unreachable');
      return new Promise<boolean>((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason)));
    },
  };
}

describe('WorkManagerSyncService (Android) on the fake WorkManager', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  async function setup(config: Parameters<WorkManagerSyncService['initialize']>[0], script: ('ok' | 'fail' | 'hang')[] = []) {
    const platform = new FakeNativePlatform({ platform: 'android' });
    const logger = { warn: vi.fn(), info: vi.fn() };
    const service = new WorkManagerSyncService(platform.bridge, { logger, random: () => 0.5 });
    const statuses = recordStatuses(service);
    const task = scriptedTask(script);
    service.registerTask(task);
    await service.initialize(config);
    return { platform, service, statuses, task, logger };
  }

  it('raises a 5-minute interval to the 15-minute floor with a warning and enqueues unique periodic work with constraints', async () => {
    const { platform, service, logger, task } = await setup({ minInterval: 5 * MINUTE, requiresCharging: true, requiresBatteryNotLow: true });
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('raised to 900000 ms'), expect.anything());
    await service.scheduleSync();
    await service.scheduleSync(); // unique work: still one
    expect(platform.pending()).toEqual([
      { id: 'nexus-store.sync', kind: 'periodic', dueAt: Date.now() + 15 * MINUTE, attempt: 0, intervalMs: 15 * MINUTE, constraints: { network: true, charging: true, batteryNotLow: true } },
    ]);
    platform.setCharging(true);
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(task.contexts).toHaveLength(1);
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('does not run while constraints are not met, then runs when they are', async () => {
    const { platform, service, task, statuses } = await setup({ requiresCharging: true });
    await service.scheduleSync();
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(task.contexts).toHaveLength(0);
    expect(service.status).toBe('scheduled');
    platform.setCharging(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(task.contexts).toHaveLength(1);
    expect(statuses).toEqual(['idle', 'scheduled', 'running', 'completed']);
    platform.setNetwork(false);
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(task.contexts).toHaveLength(1);
    await service.dispose();
  });

  it('retries through native exponential backoff up to maxRetries, then fails; the next period starts over', async () => {
    const { platform, service, task, statuses } = await setup({ maxRetries: 2, backoff: { initialDelay: 30_000 } }, ['fail', 'fail', 'fail', 'ok']);
    await service.scheduleSync();
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0]);
    await vi.advanceTimersByTimeAsync(30_000); // WorkManager: 30 s * 2^0
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(59_999); // 30 s * 2^1
    expect(task.contexts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1, 2]);
    expect(service.status).toBe('failed');
    expect(statuses).toEqual(['idle', 'scheduled', 'running', 'scheduled', 'running', 'scheduled', 'running', 'failed']);
    const completions = platform.events.filter((e) => e.type === 'completed').map((e) => (e.type === 'completed' ? e.result : ''));
    expect(completions).toEqual(['retry', 'retry', 'failure']);
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1, 2, 0]);
    expect(service.status).toBe('completed');
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('runNow enqueues one-time work and resolves after it ran', async () => {
    const { platform, service, task } = await setup({});
    await service.runNow();
    expect(task.contexts).toEqual([expect.objectContaining({ trigger: 'manual', attempt: 0 })]);
    expect(platform.events.some((e) => e.type === 'run' && e.kind === 'oneTime')).toBe(true);
    expect(service.status).toBe('completed');
    await service.dispose();
  });

  it('cancelSync removes the work: no more runs, status idle', async () => {
    const { platform, service, task, statuses } = await setup({});
    await service.scheduleSync();
    await service.cancelSync();
    expect(platform.pending()).toEqual([]);
    await vi.advanceTimersByTimeAsync(120 * MINUTE);
    expect(task.contexts).toHaveLength(0);
    expect(statuses).toEqual(['idle', 'scheduled', 'idle']);
    await service.dispose();
  });

  it('a stopped worker aborts the task through its signal and counts as a retry', async () => {
    const platform = new FakeNativePlatform({ platform: 'android', workerBudgetMs: 10 * MINUTE });
    const service = new WorkManagerSyncService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const task = scriptedTask(['hang']);
    service.registerTask(task);
    await service.initialize({ backoff: { initialDelay: 10_000 } });
    await service.scheduleSync();
    await vi.advanceTimersByTimeAsync(25 * MINUTE);
    expect(task.contexts[0]?.signal.aborted).toBe(true);
    expect(platform.events.filter((e) => e.type === 'completed').map((e) => (e.type === 'completed' ? e.result : ''))[0]).toBe('retry');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1]);
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('while terminated, the native worker replays the push snapshot; force-stop stops work until the next launch', async () => {
    const replayed: unknown[] = [];
    const platform = new FakeNativePlatform({
      platform: 'android',
      whenTerminated: 'replay',
      replay: async (snapshot) => {
        replayed.push(snapshot.body);
        return 200;
      },
    });
    const service = new WorkManagerSyncService(platform.bridge, { logger: silentLogger });
    service.registerTask(scriptedTask([]));
    await service.initialize({});
    await service.scheduleSync();
    await service.setPushSnapshot({ url: 'https://api.example/sync/push', headers: {}, body: { clientId: 'c1', mutations: [] }, updatedAt: 1 });
    platform.terminate();
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(replayed).toEqual([]); // nothing pending: nothing sent
    platform.snapshot = { url: 'https://api.example/sync/push', headers: {}, body: { clientId: 'c1', mutations: [{ mutationId: 'm1' } as never] }, updatedAt: 2 };
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(replayed).toEqual([{ clientId: 'c1', mutations: [{ mutationId: 'm1' }] }]);
    platform.forceStop();
    await vi.advanceTimersByTimeAsync(120 * MINUTE);
    expect(replayed).toHaveLength(1);
    platform.launch();
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(platform.events.filter((e) => e.type === 'run').length).toBeGreaterThanOrEqual(3);
    expect(await service.takeNativeRuns()).toHaveLength(2);
  });

  it('a replay answered 401 is final; 5xx is retried with native backoff at most 5 times', async () => {
    const statuses = [401, 503, 503, 503, 503, 503, 503, 503];
    const platform = new FakeNativePlatform({ platform: 'android', whenTerminated: 'replay', replay: async () => statuses.shift() ?? 200 });
    const service = new WorkManagerSyncService(platform.bridge, { logger: silentLogger });
    service.registerTask(scriptedTask([]));
    await service.initialize({ backoff: { initialDelay: 10_000 } });
    await service.scheduleSync();
    await service.setPushSnapshot({ url: 'https://api.example/sync/push', headers: {}, body: { clientId: 'c1', mutations: [{ mutationId: 'm1' } as never] }, updatedAt: 1 });
    platform.terminate();
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    const results = (await service.takeNativeRuns()).map((r) => [r.httpStatus, r.result]);
    expect(results).toEqual([
      [401, 'failure'],
      [503, 'retry'],
      [503, 'retry'],
      [503, 'retry'],
      [503, 'retry'],
      [503, 'retry'],
      [503, 'failure'],
    ]);
  });

  it('React Native headless JS runs the TypeScript sync while the app is terminated', async () => {
    const platform = new FakeNativePlatform({ platform: 'android', whenTerminated: 'headless' });
    const foreground = new WorkManagerSyncService(platform.bridge, { logger: silentLogger });
    foreground.registerTask(scriptedTask([]));
    await foreground.initialize({ maxRetries: 1 });
    await foreground.scheduleSync();
    platform.terminate();
    const headlessTask = scriptedTask(['fail', 'ok']);
    platform.registerHeadlessTask(createNativeRunHandler({ bridge: platform.bridge, createTask: () => headlessTask, config: { maxRetries: 1 }, logger: silentLogger, random: () => 0.5 }));
    await vi.advanceTimersByTimeAsync(15 * MINUTE + 30_000);
    expect(headlessTask.contexts.map((c) => [c.trigger, c.attempt])).toEqual([
      ['headless', 0],
      ['headless', 1],
    ]);
    expect(platform.events.filter((e) => e.type === 'run').map((e) => (e.type === 'run' ? e.mode : ''))).toEqual(['headless', 'headless']);
    expect(platform.violations).toEqual([]);
  });
});

describe('BGTaskSchedulerService (iOS) on the fake BGTaskScheduler', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('submits one BGAppRefresh request at a time and runs when iOS lets it', async () => {
    const platform = new FakeNativePlatform({ platform: 'ios' });
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const task = scriptedTask(['fail', 'ok']);
    service.registerTask(task);
    await service.initialize({ minInterval: 20 * MINUTE, maxRetries: 3, backoff: { initialDelay: MINUTE, jitter: 0 } });
    await service.scheduleSync();
    await service.scheduleSync();
    expect(platform.pending()).toEqual([expect.objectContaining({ kind: 'appRefresh', dueAt: Date.now() + 20 * MINUTE })]);
    await vi.advanceTimersByTimeAsync(20 * MINUTE);
    expect(service.status).toBe('scheduled'); // the failure asked for a retry
    expect(platform.pending()).toEqual([expect.objectContaining({ attempt: 1, dueAt: Date.now() + MINUTE })]);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1]);
    expect(service.status).toBe('completed');
    expect(platform.pending()).toEqual([expect.objectContaining({ attempt: 0, dueAt: Date.now() + 20 * MINUTE })]);
    expect(platform.maxPendingRequests).toBe(1);
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('aborts the sync through its AbortSignal when iOS expires the task, and counts it as a retry', async () => {
    const platform = new FakeNativePlatform({ platform: 'ios', appRefreshBudgetMs: 30_000 });
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const statuses = recordStatuses(service);
    const task = scriptedTask(['hang', 'ok']);
    service.registerTask(task);
    await service.initialize({ maxRetries: 2, backoff: { initialDelay: 2 * MINUTE, jitter: 0 } });
    await service.scheduleSync();
    await vi.advanceTimersByTimeAsync(15 * MINUTE + 30_000);
    expect(task.contexts[0]?.signal.aborted).toBe(true);
    expect(task.contexts[0]?.signal.reason).toMatchObject({ code: 'ABORTED' });
    expect(platform.events.map((e) => e.type)).toEqual(['scheduled', 'run', 'expired', 'completed', 'scheduled']);
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1]);
    expect(statuses).toEqual(['idle', 'scheduled', 'running', 'scheduled', 'running', 'completed']);
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('requiresCharging moves the work to a BGProcessingTask that waits for power', async () => {
    const platform = new FakeNativePlatform({ platform: 'ios' });
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger });
    const task = scriptedTask([]);
    service.registerTask(task);
    await service.initialize('conservative');
    await service.scheduleSync();
    expect(platform.pending()).toEqual([expect.objectContaining({ kind: 'processing', intervalMs: 60 * MINUTE })]);
    await vi.advanceTimersByTimeAsync(3 * 60 * MINUTE);
    expect(task.contexts).toHaveLength(0);
    platform.setCharging(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(task.contexts).toHaveLength(1);
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('runNow runs in the foreground process (iOS cannot start background work on demand) and fails after maxRetries', async () => {
    const platform = new FakeNativePlatform({ platform: 'ios' });
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const statuses = recordStatuses(service);
    const task = scriptedTask(['fail', 'fail'], 'fail');
    service.registerTask(task);
    await service.initialize({ maxRetries: 1, backoff: { initialDelay: MINUTE, jitter: 0 } });
    await service.runNow();
    expect(task.contexts).toEqual([expect.objectContaining({ trigger: 'manual' })]);
    expect(platform.pending()).toEqual([expect.objectContaining({ attempt: 1, dueAt: Date.now() + MINUTE })]);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(task.contexts.map((c) => c.attempt)).toEqual([0, 1]);
    expect(statuses).toEqual(['idle', 'running', 'scheduled', 'running', 'failed']);
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('a run buffered during a background launch is delivered once the task and configuration are set, with that configuration', async () => {
    const platform = new FakeNativePlatform({ platform: 'ios' });
    const first = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger });
    first.registerTask(scriptedTask([]));
    await first.initialize({});
    await first.scheduleSync();
    platform.terminate(); // the next run finds no JavaScript listener: it is buffered natively
    platform.launch();
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(platform.runningRuns()).toHaveLength(1);
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const task = scriptedTask(['fail']);
    service.registerTask(task);
    expect(task.contexts).toHaveLength(0); // not before initialize
    await service.initialize({ maxRetries: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(task.contexts).toHaveLength(1);
    expect(service.status).toBe('failed'); // maxRetries 0 from the app's configuration, not the default 5
    expect(platform.violations).toEqual([]);
    await service.dispose();
  });

  it('refuses a bridge of the other platform', () => {
    const platform = new FakeNativePlatform({ platform: 'android' });
    expect(() => new BGTaskSchedulerService(platform.bridge)).toThrow(/needs the ios bridge/);
  });
});
