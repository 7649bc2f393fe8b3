/** Online state, injected. The sync engine pauses while offline and syncs at once when back online. */
export interface Connectivity {
  isOnline(): boolean;
  /** Calls `listener` on every change. Returns an unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

/** Always online: the default when no connectivity source is given. */
export const alwaysOnline: Connectivity = {
  isOnline: () => true,
  subscribe: () => () => undefined,
};

export interface ManualConnectivity extends Connectivity {
  setOnline(online: boolean): void;
}

/** A connectivity source you switch by hand: for tests, or to wire to any platform signal. */
export function createManualConnectivity(initiallyOnline = true): ManualConnectivity {
  let online = initiallyOnline;
  const listeners = new Set<(online: boolean) => void>();
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setOnline(next) {
      if (next === online) return;
      online = next;
      for (const listener of [...listeners]) listener(online);
    },
  };
}

interface OnlineEventTarget {
  navigator?: { onLine?: boolean };
  addEventListener?(type: string, listener: () => void): void;
  removeEventListener?(type: string, listener: () => void): void;
}

/** Connectivity from a browser-like global (`navigator.onLine` and the online/offline events). */
export function browserConnectivity(target: OnlineEventTarget = globalThis as OnlineEventTarget): Connectivity {
  return {
    isOnline: () => target.navigator?.onLine ?? true,
    subscribe(listener) {
      const on = () => listener(true);
      const off = () => listener(false);
      target.addEventListener?.('online', on);
      target.addEventListener?.('offline', off);
      return () => {
        target.removeEventListener?.('online', on);
        target.removeEventListener?.('offline', off);
      };
    },
  };
}
