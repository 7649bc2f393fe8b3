import { InvalidArgumentError } from '@nexus-store/core';
import type { Observable } from 'rxjs';
import type { BackgroundSyncConfig, BackgroundSyncConfigInput, BackgroundSyncPreset } from './backgroundSyncConfig.js';
import type { BackgroundSyncCapabilities, BackgroundSyncService, BackgroundSyncStatus, BackgroundSyncTask } from './backgroundSyncService.js';
import { browserConnectivity, documentAppState } from './environmentPorts.js';
import { SyncServiceBase, type SyncServiceOptions } from './syncServiceBase.js';
import { TimerSyncService } from './timerSyncService.js';
import { DEFAULT_SYNC_TAG, isBackgroundSyncMessage } from './webProtocol.js';

interface SyncManagerLike {
  register(tag: string): Promise<void>;
}
interface PeriodicSyncManagerLike {
  register(tag: string, options: { minInterval: number }): Promise<void>;
  unregister(tag: string): Promise<void>;
}
interface RegistrationLike {
  sync?: SyncManagerLike;
  periodicSync?: PeriodicSyncManagerLike;
}
interface ServiceWorkerContainerLike {
  readonly ready: Promise<RegistrationLike>;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** The page's global object, as far as the web service needs it. */
export interface WebGlobalLike {
  navigator?: {
    serviceWorker?: ServiceWorkerContainerLike;
    permissions?: { query(descriptor: { name: string }): Promise<{ state: string }> };
    onLine?: boolean;
  };
  SyncManager?: unknown;
  PeriodicSyncManager?: unknown;
  document?: unknown;
  addEventListener?: unknown;
}

export interface WebSyncServiceOptions extends SyncServiceOptions {
  /** The page's global (`window`). @default globalThis */
  globalObject?: WebGlobalLike;
  /** The tag registered for one-off and periodic sync; the worker module must use the same. @default 'nexus-store-sync' */
  tag?: string;
  /** Used where the browser has neither Background Sync API. @default a TimerSyncService on the page's connectivity and visibility */
  fallback?: () => BackgroundSyncService;
}

const WEB_CAPABILITIES: BackgroundSyncCapabilities = {
  platform: 'web-background-sync',
  minInterval: 0,
  minBackoffDelay: 0,
  constraints: { network: true, charging: false, batteryNotLow: false },
  runsWhenTerminated: true,
};

/**
 * Web background sync through the service worker: Periodic Background Sync (installed PWAs, the
 * browser decides the cadence) and one-off Background Sync (fires when the browser is online, also
 * after the tab closed, retried by the browser). The worker side is `@nexus-store/background/worker`.
 * Where the browser has neither API, every call goes to the foreground timer fallback.
 */
export class WebSyncService extends SyncServiceBase {
  readonly isSupported: boolean;
  private readonly container: ServiceWorkerContainerLike | undefined;
  private readonly globalObject: WebGlobalLike;
  private readonly tag: string;
  private readonly hasOneOff: boolean;
  private readonly hasPeriodic: boolean;
  private readonly fallback: BackgroundSyncService | undefined;
  private readonly waiters = new Map<string, () => void>();
  private runNowCount = 0;
  /** Runs executed in the page (no one-off sync API); dispose aborts them. */
  private readonly inPage = new Set<AbortController>();
  private readonly onMessage = (event: { data: unknown }) => this.handleMessage(event.data);

  constructor(options: WebSyncServiceOptions = {}) {
    super(options);
    this.globalObject = options.globalObject ?? (globalThis as WebGlobalLike);
    this.tag = options.tag ?? DEFAULT_SYNC_TAG;
    this.container = this.globalObject.navigator?.serviceWorker;
    this.hasOneOff = this.container !== undefined && this.globalObject.SyncManager !== undefined;
    this.hasPeriodic = this.container !== undefined && this.globalObject.PeriodicSyncManager !== undefined;
    if (this.hasOneOff || this.hasPeriodic) {
      this.isSupported = true;
      this.container?.addEventListener('message', this.onMessage);
    } else {
      this.fallback = options.fallback?.() ?? this.defaultFallback(options);
      this.isSupported = this.fallback.isSupported;
    }
  }

  /** 'background-sync' when the browser has a Background Sync API, else 'fallback'. */
  get mode(): 'background-sync' | 'fallback' {
    return this.fallback ? 'fallback' : 'background-sync';
  }

  get capabilities(): BackgroundSyncCapabilities {
    return this.fallback?.capabilities ?? WEB_CAPABILITIES;
  }

  override get status$(): Observable<BackgroundSyncStatus> {
    return this.fallback?.status$ ?? super.status$;
  }

  override get status(): BackgroundSyncStatus {
    return this.fallback?.status ?? super.status;
  }

  override get config(): BackgroundSyncConfig | undefined {
    return this.fallback ? this.fallback.config : super.config;
  }

  override registerTask(task: BackgroundSyncTask): void {
    super.registerTask(task);
    this.fallback?.registerTask(task);
  }

  override async initialize(config: BackgroundSyncConfigInput | BackgroundSyncPreset = {}): Promise<void> {
    if (this.fallback) return this.fallback.initialize(config);
    return super.initialize(config);
  }

  async scheduleSync(): Promise<void> {
    this.assertOpen();
    if (this.fallback) return this.fallback.scheduleSync();
    const config = this.requireConfig();
    if (!this.schedulingEnabled(config)) return;
    const registration = await this.requireContainer().ready;
    if (this.hasPeriodic && registration.periodicSync) {
      const permission = await this.globalObject.navigator?.permissions?.query({ name: 'periodic-background-sync' }).catch(() => undefined);
      if (permission === undefined || permission.state === 'granted') {
        await registration.periodicSync.register(this.tag, { minInterval: config.minInterval });
      } else {
        this.logger.warn('[nexus-store/background] periodic background sync is not granted (the site must be an installed PWA); only one-off sync is used.', {
          state: permission.state,
        });
      }
    }
    // A one-off registration fires as soon as the browser is online, also after the tab closed.
    if (this.hasOneOff && registration.sync) await registration.sync.register(this.tag);
    this.setStatus('scheduled');
  }

  async cancelSync(): Promise<void> {
    this.assertOpen();
    if (this.fallback) return this.fallback.cancelSync();
    const registration = await this.requireContainer().ready;
    // A one-off registration cannot be withdrawn; periodic can.
    if (registration.periodicSync) await registration.periodicSync.unregister(this.tag);
    this.setStatus('idle');
  }

  /**
   * Registers a one-off sync under its own tag (`tag:now-…`; the browser fires it at once when online)
   * and resolves when the worker reports that run settled (completed, retry or failed).
   */
  async runNow(): Promise<void> {
    this.assertOpen();
    if (this.fallback) return this.fallback.runNow();
    const registration = await this.requireContainer().ready;
    if (!registration.sync) {
      this.setStatus('running');
      const controller = new AbortController();
      this.inPage.add(controller);
      try {
        const outcome = await this.executeTask({ signal: controller.signal, trigger: 'manual', attempt: 0 });
        this.setStatus(outcome.ok ? 'completed' : 'failed');
      } finally {
        this.inPage.delete(controller);
      }
      return;
    }
    // A tag of its own, so this call waits for its run and not for one already under way.
    this.runNowCount += 1;
    const runTag = `${this.tag}:now-${this.runNowCount}-${Math.floor(this.random() * 1e9).toString(36)}`;
    const settled = new Promise<void>((resolve) => this.waiters.set(runTag, resolve));
    await registration.sync.register(runTag);
    await settled;
  }

  protected override async onDispose(): Promise<void> {
    for (const controller of this.inPage) controller.abort();
    this.container?.removeEventListener('message', this.onMessage);
    await this.fallback?.dispose();
  }

  private handleMessage(data: unknown): void {
    if (!isBackgroundSyncMessage(data) || (data.tag !== this.tag && !data.tag.startsWith(`${this.tag}:`))) return;
    this.setStatus(data.status === 'retry' ? 'scheduled' : data.status);
    if (data.status === 'running') return;
    this.waiters.get(data.tag)?.();
    this.waiters.delete(data.tag);
  }

  private requireContainer(): ServiceWorkerContainerLike {
    if (!this.container) throw new InvalidArgumentError('This page has no service worker container (navigator.serviceWorker).');
    return this.container;
  }

  private defaultFallback(options: WebSyncServiceOptions): BackgroundSyncService {
    const g = this.globalObject as Parameters<typeof browserConnectivity>[0] & { document?: Parameters<typeof documentAppState>[0] };
    const hasEvents = typeof g.addEventListener === 'function';
    return new TimerSyncService({
      logger: options.logger,
      random: options.random,
      platformName: 'web-timer',
      connectivity: hasEvents ? browserConnectivity(g) : undefined,
      appState: g.document && typeof g.document.addEventListener === 'function' ? documentAppState(g.document) : undefined,
    });
  }
}
