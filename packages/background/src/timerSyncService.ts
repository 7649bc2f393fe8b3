import { parseBackgroundSyncConfig, type BackgroundSyncConfig } from './backgroundSyncConfig.js';
import type { BackgroundSyncCapabilities, BackgroundSyncTrigger } from './backgroundSyncService.js';
import { systemClock, systemTimers, type AppStateSource, type Clock, type ConnectivitySource, type TimerPort } from './environmentPorts.js';
import { decideAfterRun } from './retryPolicy.js';
import { SyncServiceBase, type SyncServiceOptions } from './syncServiceBase.js';

export interface TimerSyncServiceOptions extends SyncServiceOptions {
  /** @default `clock` when it has timers (a core `Clock` does), else the host's setTimeout/clearTimeout */
  timers?: TimerPort;
  /** @default Date.now */
  clock?: Clock | (Clock & TimerPort);
  /** Online state; runs wait for it when `requiresNetwork`, and a reconnect triggers a run. @default always online */
  connectivity?: ConnectivitySource;
  /** Foreground/background changes; coming back to the foreground triggers a run. @default none */
  appState?: AppStateSource;
  /** Shortest interval accepted. @default 1_000 */
  minIntervalFloor?: number;
  /** Name in logs and capabilities. @default 'timer' */
  platformName?: string;
}

/**
 * Foreground sync on timers, for Node, Electron and the foreground of any app: a run every
 * `minInterval` while the process lives, a run when connectivity comes back and when the app
 * returns to the foreground, retries with backoff. Nothing runs once the process is gone.
 */
export class TimerSyncService extends SyncServiceBase {
  readonly isSupported = true;
  readonly capabilities: BackgroundSyncCapabilities;

  private readonly timers: TimerPort;
  private readonly clock: Clock;
  private readonly connectivity: ConnectivitySource | undefined;
  private readonly appState: AppStateSource | undefined;
  private timer: unknown;
  private scheduled = false;
  private attempt = 0;
  private generation = 0;
  private running: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private unsubscribers: (() => void)[] = [];
  private lastRunAt: number | undefined;

  constructor(options: TimerSyncServiceOptions = {}) {
    super(options);
    this.timers = options.timers ?? (options.clock && 'setTimeout' in options.clock ? options.clock : systemTimers);
    this.clock = options.clock ?? systemClock;
    this.connectivity = options.connectivity;
    this.appState = options.appState;
    this.capabilities = {
      platform: options.platformName ?? 'timer',
      minInterval: options.minIntervalFloor ?? 1_000,
      minBackoffDelay: 0,
      constraints: { network: this.connectivity !== undefined, charging: false, batteryNotLow: false },
      runsWhenTerminated: false,
    };
  }

  /** When the last run started (epoch ms), if any. */
  get lastRunStartedAt(): number | undefined {
    return this.lastRunAt;
  }

  async scheduleSync(): Promise<void> {
    this.assertOpen();
    const config = this.requireConfig();
    this.requireTask();
    if (!this.schedulingEnabled(config)) return;
    if (!this.scheduled) {
      this.scheduled = true;
      this.subscribeSources();
    }
    this.setStatus('scheduled');
    this.planRun(config.minInterval, 'periodic');
  }

  async cancelSync(): Promise<void> {
    this.assertOpen();
    this.stop();
    this.setStatus('idle');
  }

  async runNow(): Promise<void> {
    this.assertOpen();
    this.requireTask();
    await this.run('manual');
  }

  protected override async onDispose(): Promise<void> {
    this.stop();
    this.controller?.abort();
  }

  private stop(): void {
    this.scheduled = false;
    this.attempt = 0;
    this.generation += 1;
    this.clearTimer();
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  private effective(): BackgroundSyncConfig {
    return this.config ?? parseBackgroundSyncConfig({});
  }

  private subscribeSources(): void {
    if (this.connectivity) {
      this.unsubscribers.push(
        this.connectivity.subscribe((online) => {
          if (online && this.scheduled) void this.run('reconnect');
        }),
      );
    }
    if (this.appState) {
      this.unsubscribers.push(
        this.appState.subscribe((state) => {
          if (state === 'active' && this.scheduled) void this.run('resume');
        }),
      );
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private planRun(delay: number, trigger: BackgroundSyncTrigger): void {
    this.clearTimer();
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.run(trigger);
    }, delay);
  }

  private run(trigger: BackgroundSyncTrigger): Promise<void> {
    if (this.running) return this.running;
    const config = this.effective();
    if (config.requiresNetwork && this.connectivity && !this.connectivity.isOnline()) {
      // Held back until the connectivity source reports online (which triggers a run).
      this.clearTimer();
      return Promise.resolve();
    }
    this.clearTimer();
    const generation = this.generation;
    const controller = new AbortController();
    this.controller = controller;
    const attempt = this.attempt;
    this.lastRunAt = this.clock.now();
    this.setStatus('running');
    this.running = (async () => {
      const outcome = await this.executeTask({ signal: controller.signal, trigger: attempt > 0 && trigger === 'retry' ? 'retry' : trigger, attempt });
      if (generation !== this.generation || this.disposed) {
        // Cancelled while running: report the outcome but plan nothing.
        this.setStatus(this.scheduled ? (outcome.ok ? 'completed' : 'failed') : 'idle');
        return;
      }
      const decision = decideAfterRun(outcome, attempt, config, this.random);
      if (decision.kind === 'retry') {
        this.attempt = decision.nextAttempt;
        this.setStatus('scheduled');
        this.planRun(decision.delay, 'retry');
        return;
      }
      this.attempt = 0;
      this.setStatus(decision.kind === 'success' ? 'completed' : 'failed');
      if (this.scheduled) this.planRun(config.minInterval, 'periodic');
    })().finally(() => {
      this.running = undefined;
      if (this.controller === controller) this.controller = undefined;
    });
    return this.running;
  }
}
