import { systemTimers, type TimerPort } from './environmentPorts.js';
import type {
  NativeBridge,
  NativeConstraints,
  NativeExpireEvent,
  NativePlatform,
  NativeRunEvent,
  NativeRunKind,
  NativeRunNowRequest,
  NativeRunRecord,
  NativeRunResult,
  NativeScheduleRequest,
  PushSnapshot,
} from './nativeBridge.js';

const MINUTE = 60_000;
/** WorkManager's PeriodicWorkRequest.MIN_PERIODIC_INTERVAL_MILLIS. */
export const ANDROID_MIN_PERIODIC_INTERVAL = 15 * MINUTE;
/** WorkManager's WorkRequest.MIN_BACKOFF_MILLIS and MAX_BACKOFF_MILLIS. */
export const ANDROID_MIN_BACKOFF = 10_000;
export const ANDROID_MAX_BACKOFF = 5 * 60 * MINUTE;
/** Retries of a native replay before it gives up (NexusSyncWorker.MAX_NATIVE_RETRIES). */
export const MAX_NATIVE_REPLAY_RETRIES = 5;

export type FakeAppState = 'foreground' | 'background' | 'terminated';

export interface FakeNativePlatformOptions {
  platform: NativePlatform;
  /**
   * What a run does while the app is terminated: 'replay' (the Capacitor native worker POSTs the push
   * snapshot), 'headless' (React Native headless JS on Android runs the registered handler), 'none'.
   * @default 'replay'
   */
  whenTerminated?: 'replay' | 'headless' | 'none';
  /** Performs the replayed push; returns the HTTP status, or null without a response. @default 200 without a request */
  replay?: (snapshot: PushSnapshot) => Promise<number | null>;
  /** @default Date.now (faked by vitest fake timers) */
  now?: () => number;
  /** @default the host's timers (faked by vitest fake timers) */
  timers?: TimerPort;
  /** iOS BGAppRefreshTask budget. @default 30_000 */
  appRefreshBudgetMs?: number;
  /** iOS BGProcessingTask budget. @default 180_000 */
  processingBudgetMs?: number;
  /** Android worker budget before `onStopped`. @default 600_000 */
  workerBudgetMs?: number;
  /** Time the code gets after an expiration to call complete. @default 5_000 */
  expirationGraceMs?: number;
}

interface WorkItem {
  id: string;
  taskId: string;
  kind: NativeRunKind;
  dueAt: number;
  intervalMs: number;
  constraints: NativeConstraints;
  backoffInitialMs: number;
  attempt: number;
}

interface RunningWork {
  item: WorkItem;
  event: NativeRunEvent;
  startedAt: number;
  timers: unknown[];
  expired: boolean;
}

/** Something that happened on the fake platform, for assertions. */
export type FakePlatformEvent =
  | { type: 'scheduled'; at: number; item: string; kind: NativeRunKind; dueAt: number; intervalMs: number }
  | { type: 'run'; at: number; runId: string; kind: NativeRunKind; attempt: number; mode: 'app' | 'replay' | 'headless' | 'dropped' }
  | { type: 'expired'; at: number; runId: string }
  | { type: 'completed'; at: number; runId: string; result: NativeRunResult['result'] }
  | { type: 'cancelled'; at: number; taskId: string };

/**
 * A model of WorkManager and BGTaskScheduler for tests of the TypeScript services, following
 * BRIDGE.md: the 15-minute Android floor (values below it are clamped and recorded as violations),
 * constraints (a run waits until they hold), native exponential backoff on Android, iOS budgets with
 * an expiration event, at most one pending iOS request per identifier (a submit replaces it),
 * terminated apps (replay of the push snapshot or headless JS), force-stop (nothing until launch).
 */
export class FakeNativePlatform {
  readonly platform: NativePlatform;
  network = true;
  charging = false;
  batteryLow = false;
  appState: FakeAppState = 'foreground';
  forceStopped = false;
  /** Native storage: the last push snapshot written by the TS side. */
  snapshot: PushSnapshot | null = null;
  /** Rules of the platform the TS side broke. A correct service leaves this empty. */
  readonly violations: string[] = [];
  readonly events: FakePlatformEvent[] = [];
  /** Highest number of iOS requests pending at once (BGTaskScheduler allows one refresh request per identifier). */
  maxPendingRequests = 0;
  readonly bridge: NativeBridge;

  private readonly options: Required<Omit<FakeNativePlatformOptions, 'replay'>> & Pick<FakeNativePlatformOptions, 'replay'>;
  private readonly items = new Map<string, WorkItem>();
  private readonly running = new Map<string, RunningWork>();
  private runListeners: ((event: NativeRunEvent) => void)[] = [];
  private expireListeners: ((event: NativeExpireEvent) => void)[] = [];
  private buffered: NativeRunEvent[] = [];
  private headless: ((event: NativeRunEvent) => Promise<void>) | undefined;
  private nativeRuns: NativeRunRecord[] = [];
  private timer: unknown;
  private runCounter = 0;
  private readonly cancelled = new Set<string>();

  constructor(options: FakeNativePlatformOptions) {
    this.platform = options.platform;
    this.options = {
      platform: options.platform,
      whenTerminated: options.whenTerminated ?? 'replay',
      replay: options.replay,
      now: options.now ?? (() => Date.now()),
      timers: options.timers ?? systemTimers,
      appRefreshBudgetMs: options.appRefreshBudgetMs ?? 30_000,
      processingBudgetMs: options.processingBudgetMs ?? 180_000,
      workerBudgetMs: options.workerBudgetMs ?? 600_000,
      expirationGraceMs: options.expirationGraceMs ?? 5_000,
    };
    this.bridge = this.createBridge();
  }

  /** Pending work (Android) or submitted requests (iOS). */
  pending(): readonly { id: string; kind: NativeRunKind; dueAt: number; attempt: number; intervalMs: number; constraints: NativeConstraints }[] {
    return [...this.items.values()].map(({ id, kind, dueAt, attempt, intervalMs, constraints }) => ({ id, kind, dueAt, attempt, intervalMs, constraints }));
  }

  /** Runs waiting for `complete`. */
  runningRuns(): readonly NativeRunEvent[] {
    return [...this.running.values()].map((r) => r.event);
  }

  setNetwork(online: boolean): void {
    this.network = online;
    this.plan();
  }

  setCharging(charging: boolean): void {
    this.charging = charging;
    this.plan();
  }

  setBatteryLow(low: boolean): void {
    this.batteryLow = low;
    this.plan();
  }

  moveToBackground(): void {
    this.appState = 'background';
  }

  /** The process dies: JavaScript listeners are gone; runs in flight end as retries (Android) or are lost (iOS). */
  terminate(): void {
    this.appState = 'terminated';
    this.runListeners = [];
    this.expireListeners = [];
    this.buffered = [];
    for (const run of [...this.running.values()]) this.finish(run.event.runId, this.platform === 'android' ? { result: 'retry', retryAfterMs: 0, attempt: run.item.attempt + 1 } : { result: 'failure' });
  }

  /** Android "Force stop" in settings: the process dies and no work runs until the next launch. */
  forceStop(): void {
    this.terminate();
    this.forceStopped = true;
    this.plan();
  }

  /** The user opens the app: a fresh JavaScript context (create a new service on `bridge`). */
  launch(): void {
    this.appState = 'foreground';
    this.forceStopped = false;
    this.plan();
  }

  /** React Native: the task AppRegistry.registerHeadlessTask would run. */
  registerHeadlessTask(handler: (event: NativeRunEvent) => Promise<void>): void {
    this.headless = handler;
  }

  private now(): number {
    return this.options.now();
  }

  private createBridge(): NativeBridge {
    return {
      platform: this.platform,
      schedule: async (request) => this.schedule(request),
      cancel: async (taskId) => this.cancel(taskId),
      runNow: async (request) => this.runNow(request),
      complete: async (runId, result) => {
        if (!this.running.has(runId)) {
          this.violations.push(`complete(${runId}) for a run that is not running`);
          return;
        }
        this.finish(runId, result);
      },
      setPushSnapshot: async (snapshot) => {
        this.snapshot = snapshot === null ? null : (JSON.parse(JSON.stringify(snapshot)) as PushSnapshot);
      },
      takeNativeRuns: async () => this.nativeRuns.splice(0),
      onRun: (listener) => {
        this.runListeners.push(listener);
        const buffered = this.buffered.splice(0);
        for (const event of buffered) listener(event);
        return () => {
          this.runListeners = this.runListeners.filter((l) => l !== listener);
        };
      },
      onExpire: (listener) => {
        this.expireListeners.push(listener);
        return () => {
          this.expireListeners = this.expireListeners.filter((l) => l !== listener);
        };
      },
    };
  }

  private schedule(request: NativeScheduleRequest): void {
    this.cancelled.delete(request.taskId);
    let intervalMs = request.intervalMs;
    if (intervalMs < ANDROID_MIN_PERIODIC_INTERVAL) {
      this.violations.push(`schedule: interval ${intervalMs} ms is below the 15-minute floor`);
      intervalMs = ANDROID_MIN_PERIODIC_INTERVAL;
    }
    if (this.platform === 'android' && request.backoff.initialDelayMs < ANDROID_MIN_BACKOFF) {
      this.violations.push(`schedule: backoff ${request.backoff.initialDelayMs} ms is below WorkManager's 10 s minimum`);
    }
    if (this.platform === 'android') {
      // enqueueUniquePeriodicWork(taskId, UPDATE, ...); a retry request (attempt > 0) is one-time work.
      const id = request.attempt > 0 ? `${request.taskId}.retry` : request.taskId;
      const kind: NativeRunKind = request.attempt > 0 ? 'oneTime' : 'periodic';
      this.put({ id, taskId: request.taskId, kind, dueAt: this.now() + request.initialDelayMs, intervalMs, constraints: request.constraints, backoffInitialMs: Math.max(ANDROID_MIN_BACKOFF, request.backoff.initialDelayMs), attempt: request.attempt });
    } else {
      if (request.constraints.batteryNotLow) this.violations.push('schedule: iOS cannot require battery-not-low');
      // One request per identifier: a submit replaces the pending one.
      const kind: NativeRunKind = request.constraints.charging ? 'processing' : 'appRefresh';
      this.put({ id: request.taskId, taskId: request.taskId, kind, dueAt: this.now() + request.initialDelayMs, intervalMs, constraints: request.constraints, backoffInitialMs: 0, attempt: request.attempt });
    }
    this.plan();
  }

  private runNow(request: NativeRunNowRequest): void {
    if (this.platform === 'ios') {
      this.violations.push('runNow: iOS cannot start background work on demand');
      throw new Error('BGTaskScheduler cannot run on demand');
    }
    this.cancelled.delete(request.taskId);
    this.put({ id: `${request.taskId}.now`, taskId: request.taskId, kind: 'oneTime', dueAt: this.now(), intervalMs: 0, constraints: request.constraints, backoffInitialMs: Math.max(ANDROID_MIN_BACKOFF, request.backoff.initialDelayMs), attempt: 0 });
    this.plan();
  }

  private cancel(taskId: string): void {
    for (const [id, item] of this.items) if (item.taskId === taskId) this.items.delete(id);
    this.cancelled.add(taskId);
    this.events.push({ type: 'cancelled', at: this.now(), taskId });
    this.plan();
  }

  private put(item: WorkItem): void {
    this.items.set(item.id, item);
    this.events.push({ type: 'scheduled', at: this.now(), item: item.id, kind: item.kind, dueAt: item.dueAt, intervalMs: item.intervalMs });
    if (this.platform === 'ios') this.maxPendingRequests = Math.max(this.maxPendingRequests, this.items.size);
  }

  private constraintsMet(item: WorkItem): boolean {
    if (this.platform === 'ios') {
      // A refresh task ignores constraints; a processing task needs power and network.
      return item.kind === 'appRefresh' || (this.charging && this.network);
    }
    const c = item.constraints;
    return (!c.network || this.network) && (!c.charging || this.charging) && (!c.batteryNotLow || !this.batteryLow);
  }

  private isBusy(item: WorkItem): boolean {
    return [...this.running.values()].some((r) => r.item.id === item.id);
  }

  /** Sets one timer for the earliest runnable item. */
  private plan(): void {
    if (this.timer !== undefined) this.options.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.forceStopped) return;
    const now = this.now();
    const ready = [...this.items.values()].filter((item) => !this.isBusy(item) && this.constraintsMet(item));
    const due = ready.filter((item) => item.dueAt <= now);
    for (const item of due) this.start(item);
    const next = ready.filter((item) => item.dueAt > now).sort((a, b) => a.dueAt - b.dueAt)[0];
    if (next) {
      this.timer = this.options.timers.setTimeout(() => {
        this.timer = undefined;
        this.plan();
      }, next.dueAt - now);
    }
  }

  private start(item: WorkItem): void {
    if (this.platform === 'ios' || item.kind === 'oneTime') this.items.delete(item.id); // iOS requests and one-time work are consumed
    this.runCounter += 1;
    const event: NativeRunEvent = { runId: `run-${this.runCounter}`, taskId: item.taskId, kind: item.kind, attempt: item.attempt };
    const run: RunningWork = { item, event, startedAt: this.now(), timers: [], expired: false };
    this.running.set(event.runId, run);
    const budget = this.platform === 'android' ? this.options.workerBudgetMs : item.kind === 'processing' ? this.options.processingBudgetMs : this.options.appRefreshBudgetMs;
    run.timers.push(this.options.timers.setTimeout(() => this.expire(event.runId), budget));
    if (this.appState !== 'terminated') {
      this.events.push({ type: 'run', at: this.now(), runId: event.runId, kind: item.kind, attempt: item.attempt, mode: 'app' });
      if (this.runListeners.length === 0) this.buffered.push(event);
      for (const listener of this.runListeners) listener(event);
      return;
    }
    const mode = this.options.whenTerminated;
    if (mode === 'headless' && this.platform === 'android' && this.headless) {
      this.events.push({ type: 'run', at: this.now(), runId: event.runId, kind: item.kind, attempt: item.attempt, mode: 'headless' });
      void this.headless(event);
    } else if (mode === 'replay') {
      this.events.push({ type: 'run', at: this.now(), runId: event.runId, kind: item.kind, attempt: item.attempt, mode: 'replay' });
      void this.replayRun(event);
    } else {
      this.events.push({ type: 'run', at: this.now(), runId: event.runId, kind: item.kind, attempt: item.attempt, mode: 'dropped' });
      this.finish(event.runId, { result: 'failure' });
    }
  }

  /** What the native worker does without JavaScript: POST the snapshot, success on 2xx, else retry. */
  private async replayRun(event: NativeRunEvent): Promise<void> {
    const snapshot = this.snapshot;
    const startedAt = this.now();
    let status: number | null = 200;
    if (snapshot && snapshot.body.mutations.length > 0) {
      status = this.options.replay ? await this.options.replay(snapshot).catch(() => null) : 200;
    }
    const ok = status !== null && status >= 200 && status < 300;
    // Like the Kotlin worker: 4xx is final, 5xx/no response is retried at most MAX_NATIVE_REPLAY_RETRIES times.
    const final = status !== null && status >= 400 && status < 500;
    const result: NativeRunResult = ok ? { result: 'success' } : final || event.attempt >= MAX_NATIVE_REPLAY_RETRIES ? { result: 'failure' } : { result: 'retry', retryAfterMs: 15 * MINUTE, attempt: event.attempt + 1 };
    this.nativeRuns.push({ runId: event.runId, kind: event.kind, startedAt, finishedAt: this.now(), result: result.result, httpStatus: status, mutationCount: snapshot?.body.mutations.length ?? 0 });
    if (this.running.has(event.runId)) this.finish(event.runId, result);
  }

  private expire(runId: string): void {
    const run = this.running.get(runId);
    if (!run) return;
    run.expired = true;
    this.events.push({ type: 'expired', at: this.now(), runId });
    for (const listener of this.expireListeners) listener({ runId, taskId: run.event.taskId });
    run.timers.push(
      this.options.timers.setTimeout(() => {
        if (!this.running.has(runId)) return;
        this.violations.push(`run ${runId} was not completed within ${this.options.expirationGraceMs} ms of its expiration`);
        // iOS terminates the app; Android treats a stopped worker as a retry.
        this.finish(runId, this.platform === 'android' ? { result: 'retry', retryAfterMs: 0, attempt: run.item.attempt + 1 } : { result: 'failure' });
      }, this.options.expirationGraceMs),
    );
  }

  private finish(runId: string, result: NativeRunResult): void {
    const run = this.running.get(runId);
    if (!run) return;
    this.running.delete(runId);
    for (const t of run.timers) this.options.timers.clearTimeout(t);
    this.events.push({ type: 'completed', at: this.now(), runId, result: result.result });
    const { item } = run;
    const now = this.now();
    if (this.cancelled.has(item.taskId)) {
      // Cancelled while running: nothing is planned again.
    } else if (this.platform === 'android') {
      if (result.result === 'retry') {
        // BackoffPolicy.EXPONENTIAL: initial * 2^(runAttemptCount - 1), capped at 5 hours.
        const delay = Math.min(ANDROID_MAX_BACKOFF, item.backoffInitialMs * 2 ** item.attempt);
        this.items.set(item.id, { ...item, dueAt: now + delay, attempt: item.attempt + 1 });
      } else if (item.kind === 'periodic' && this.items.has(item.id)) {
        this.items.set(item.id, { ...item, dueAt: now + item.intervalMs, attempt: 0 });
      }
    } else if (!this.items.has(item.id)) {
      // What the Swift side does after setTaskCompleted: submit the next request (unless one was submitted meanwhile).
      const retry = result.result === 'retry';
      this.put({ ...item, dueAt: now + (retry ? result.retryAfterMs : item.intervalMs), attempt: retry ? result.attempt : 0 });
    }
    this.plan();
  }
}
