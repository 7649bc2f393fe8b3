import { AuthError, NetworkError } from '@nexus-store/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimerSyncService, type BackgroundSyncTask } from '@nexus-store/background';
import { FakeAppState, FakeConnectivity, recordStatuses, silentLogger } from './helpers.js';

const MINUTE = 60_000;

function task(impl: () => Promise<boolean>): BackgroundSyncTask & { calls: number; triggers: string[] } {
  const t = {
    taskId: 'test',
    calls: 0,
    triggers: [] as string[],
    async execute(context: { trigger: string }) {
      t.calls += 1;
      t.triggers.push(context.trigger);
      return impl();
    },
  };
  return t;
}

describe('TimerSyncService', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs every minInterval while scheduled: idle → scheduled → running → completed', async () => {
    const service = new TimerSyncService({ logger: silentLogger });
    const statuses = recordStatuses(service);
    const t = task(async () => true);
    service.registerTask(t);
    await service.initialize({ minInterval: 5 * MINUTE });
    await service.scheduleSync();
    expect(t.calls).toBe(0);
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(t.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(t.calls).toBe(2);
    expect(statuses).toEqual(['idle', 'scheduled', 'running', 'completed', 'running', 'completed']);
    await service.dispose();
  });

  it('retries with backoff up to maxRetries, then reports failed and keeps the period', async () => {
    const service = new TimerSyncService({ logger: silentLogger, random: () => 0.5 });
    const statuses = recordStatuses(service);
    const t = task(async () => {
      throw new NetworkError('NETWORK', 'offline');
    });
    service.registerTask(t);
    await service.initialize({ minInterval: 10 * MINUTE, maxRetries: 2, backoff: { initialDelay: 1_000, multiplier: 3, jitter: 0 } });
    await service.scheduleSync();
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(t.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(t.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(t.calls).toBe(3);
    expect(t.triggers).toEqual(['periodic', 'retry', 'retry']);
    expect(service.status).toBe('failed');
    expect(statuses).toEqual(['idle', 'scheduled', 'running', 'scheduled', 'running', 'scheduled', 'running', 'failed']);
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(t.calls).toBe(4); // the next period starts a fresh budget
    await service.dispose();
  });

  it('does not retry a non-retryable error (AUTH)', async () => {
    const service = new TimerSyncService({ logger: silentLogger });
    const t = task(async () => {
      throw new AuthError('AUTH', 'token expired');
    });
    service.registerTask(t);
    await service.initialize({ maxRetries: 5 });
    await service.runNow();
    expect(service.status).toBe('failed');
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(t.calls).toBe(1);
    await service.dispose();
  });

  it('holds runs while offline when requiresNetwork, and syncs on reconnect', async () => {
    const connectivity = new FakeConnectivity(false);
    const service = new TimerSyncService({ logger: silentLogger, connectivity });
    const t = task(async () => true);
    service.registerTask(t);
    await service.initialize({ minInterval: MINUTE });
    await service.scheduleSync();
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(t.calls).toBe(0);
    connectivity.set(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.triggers).toEqual(['reconnect']);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(t.triggers).toEqual(['reconnect', 'periodic']);
    await service.dispose();
  });

  it('syncs when the app comes back to the foreground', async () => {
    const appState = new FakeAppState();
    const service = new TimerSyncService({ logger: silentLogger, appState });
    const t = task(async () => true);
    service.registerTask(t);
    await service.initialize({ minInterval: 60 * MINUTE });
    await service.scheduleSync();
    appState.set('background');
    appState.set('active');
    await vi.advanceTimersByTimeAsync(0);
    expect(t.triggers).toEqual(['resume']);
    await service.dispose();
  });

  it('shares one run between concurrent triggers', async () => {
    let release!: () => void;
    const t = task(() => new Promise<boolean>((resolve) => (release = () => resolve(true))));
    const service = new TimerSyncService({ logger: silentLogger });
    service.registerTask(t);
    await service.initialize({});
    const a = service.runNow();
    const b = service.runNow();
    release();
    await Promise.all([a, b]);
    expect(t.calls).toBe(1);
    await service.dispose();
  });

  it('cancelSync stops the schedule and sets idle; a disabled config schedules nothing', async () => {
    const service = new TimerSyncService({ logger: silentLogger });
    const t = task(async () => true);
    service.registerTask(t);
    await service.initialize({ minInterval: MINUTE });
    await service.scheduleSync();
    await service.cancelSync();
    expect(service.status).toBe('idle');
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(t.calls).toBe(0);

    await service.initialize('disabled');
    await service.scheduleSync();
    expect(service.status).toBe('idle');
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(t.calls).toBe(0);
    await service.dispose();
  });

  it('refuses to schedule before initialize or without a task, and after dispose', async () => {
    const service = new TimerSyncService({ logger: silentLogger });
    await expect(service.scheduleSync()).rejects.toThrow(/initialize/);
    await service.initialize({});
    await expect(service.scheduleSync()).rejects.toThrow(/registerTask/);
    let completed = false;
    service.status$.subscribe({ complete: () => (completed = true) });
    await service.dispose();
    expect(completed).toBe(true);
    await expect(service.runNow()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
