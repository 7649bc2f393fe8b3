/** Timers, injected so tests drive time (vitest fake timers, or a hand-made scheduler). */
export interface TimerPort {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Wall clock in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** Online state and its changes. */
export interface ConnectivitySource {
  isOnline(): boolean;
  /** Calls `listener` on every change. Returns an unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

export type AppState = 'active' | 'background';

/** Foreground/background changes of the app (visibility, AppState, Capacitor's appStateChange). */
export interface AppStateSource {
  /** Calls `listener` on every change. Returns an unsubscribe function. */
  subscribe(listener: (state: AppState) => void): () => void;
}

/** The real timers of the host. */
export const systemTimers: TimerPort = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** `Date.now()`. */
export const systemClock: Clock = { now: () => Date.now() };

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** Connectivity from a window or worker global: `navigator.onLine` plus `online`/`offline` events. */
export function browserConnectivity(globalObject: EventTargetLike & { navigator?: { onLine?: boolean } }): ConnectivitySource {
  return {
    isOnline: () => globalObject.navigator?.onLine !== false,
    subscribe(listener) {
      const online = () => listener(true);
      const offline = () => listener(false);
      globalObject.addEventListener('online', online);
      globalObject.addEventListener('offline', offline);
      return () => {
        globalObject.removeEventListener('online', online);
        globalObject.removeEventListener('offline', offline);
      };
    },
  };
}

/** App state from a document's `visibilitychange` events. */
export function documentAppState(document: EventTargetLike & { visibilityState?: string }): AppStateSource {
  return {
    subscribe(listener) {
      const onChange = () => listener(document.visibilityState === 'hidden' ? 'background' : 'active');
      document.addEventListener('visibilitychange', onChange);
      return () => document.removeEventListener('visibilitychange', onChange);
    },
  };
}
