import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  NoopSyncService,
  TimerSyncService,
  WebSyncService,
  WorkManagerSyncService,
  BGTaskSchedulerService,
  createBackgroundSyncService,
  detectEnvironment,
  type BackgroundSyncServiceProviders,
} from '@nexus-store/background';
import { FakeNativePlatform } from '@nexus-store/background/testing';
import { silentLogger } from './helpers.js';

const nativeServices = (): BackgroundSyncServiceProviders => ({
  android: ({ logger }) => new WorkManagerSyncService(new FakeNativePlatform({ platform: 'android' }).bridge, { logger }),
  ios: ({ logger }) => new BGTaskSchedulerService(new FakeNativePlatform({ platform: 'ios' }).bridge, { logger }),
});

const capacitorGlobal = (platform: string, native = true) => ({ Capacitor: { isNativePlatform: () => native, getPlatform: () => platform }, window: {}, document: {}, navigator: {} });
const browserGlobal = (extra: Record<string, unknown> = {}) => ({
  window: {},
  document: {},
  navigator: { serviceWorker: { ready: new Promise(() => {}), addEventListener() {}, removeEventListener() {} } },
  ...extra,
});

describe('createBackgroundSyncService: platform detection', () => {
  it('Capacitor native Android and iOS come first', () => {
    expect(createBackgroundSyncService({ globalObject: capacitorGlobal('android'), services: nativeServices(), logger: silentLogger })).toBeInstanceOf(WorkManagerSyncService);
    expect(createBackgroundSyncService({ globalObject: capacitorGlobal('ios'), services: nativeServices(), logger: silentLogger })).toBeInstanceOf(BGTaskSchedulerService);
    expect(detectEnvironment(capacitorGlobal('ios'))).toEqual({ runtime: 'capacitor', os: 'ios', serviceWorker: false });
  });

  it('a Capacitor web build is a browser, not native', () => {
    expect(detectEnvironment(capacitorGlobal('web', false)).runtime).toBe('browser');
  });

  it('native without its service warns and falls back to Noop', () => {
    const logger = { warn: vi.fn() };
    expect(createBackgroundSyncService({ globalObject: capacitorGlobal('android'), logger })).toBeInstanceOf(NoopSyncService);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('@nexus-store/capacitor'));
  });

  it('React Native uses the service its package provides for the current OS', () => {
    const rn = { navigator: { product: 'ReactNative' } };
    const { android } = nativeServices();
    expect(detectEnvironment(rn)).toEqual({ runtime: 'react-native', os: null, serviceWorker: false });
    expect(createBackgroundSyncService({ globalObject: rn, services: { android }, logger: silentLogger })).toBeInstanceOf(WorkManagerSyncService);
    expect(createBackgroundSyncService({ environment: { runtime: 'react-native', os: 'ios', serviceWorker: false }, services: nativeServices(), logger: silentLogger })).toBeInstanceOf(BGTaskSchedulerService);
  });

  it('a browser with a service worker gets the web service (Background Sync, or its timer fallback)', () => {
    const withSync = createBackgroundSyncService({ globalObject: browserGlobal({ SyncManager: class {} }), logger: silentLogger });
    expect(withSync).toBeInstanceOf(WebSyncService);
    expect((withSync as WebSyncService).mode).toBe('background-sync');
    const without = createBackgroundSyncService({ globalObject: browserGlobal(), logger: silentLogger });
    expect((without as WebSyncService).mode).toBe('fallback');
    expect(without.capabilities.platform).toBe('web-timer');
  });

  it('a browser without a service worker, Node and unknown runtimes get Noop', () => {
    expect(createBackgroundSyncService({ globalObject: { window: {}, document: {}, navigator: {} }, logger: silentLogger })).toBeInstanceOf(NoopSyncService);
    expect(createBackgroundSyncService({ globalObject: { process: { versions: { node: '20.0.0' } } }, logger: silentLogger })).toBeInstanceOf(NoopSyncService);
    expect(createBackgroundSyncService({ globalObject: {}, logger: silentLogger })).toBeInstanceOf(NoopSyncService);
    expect(detectEnvironment(globalThis).runtime).toBe('node');
    expect(createBackgroundSyncService({ logger: silentLogger })).toBeInstanceOf(NoopSyncService);
  });

  it('an explicit platform wins over detection', () => {
    expect(createBackgroundSyncService({ platform: 'timer', globalObject: capacitorGlobal('android'), services: nativeServices(), logger: silentLogger })).toBeInstanceOf(TimerSyncService);
    expect(createBackgroundSyncService({ platform: 'ios', globalObject: capacitorGlobal('android'), services: nativeServices(), logger: silentLogger })).toBeInstanceOf(BGTaskSchedulerService);
    expect(createBackgroundSyncService({ platform: 'noop', globalObject: browserGlobal({ SyncManager: class {} }), logger: silentLogger })).toBeInstanceOf(NoopSyncService);
    expect(() => createBackgroundSyncService({ platform: 'android', logger: silentLogger })).toThrow(/capacitorSyncServices/);
  });

  it('this package never imports Capacitor or React Native (Node must not load them)', () => {
    const dir = new URL('../src/', import.meta.url);
    for (const file of readdirSync(dir)) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      expect(text, file).not.toMatch(/from '@capacitor|from 'react-native|import\('@capacitor|require\('react-native/);
    }
  });
});

describe('NoopSyncService', () => {
  it('schedules nothing but still runs the task on runNow', async () => {
    const service = new NoopSyncService({ logger: silentLogger });
    expect(service.isSupported).toBe(false);
    let runs = 0;
    service.registerTask({ taskId: 't', execute: async () => ++runs > 0 });
    await service.initialize({});
    await service.scheduleSync();
    expect(service.status).toBe('idle');
    await service.runNow();
    expect(runs).toBe(1);
    expect(service.status).toBe('completed');
    await service.dispose();
  });
});
