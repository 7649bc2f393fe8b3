import type { Clock, TimerPort } from './environmentPorts.js';

/** A clock and timers that move only when told, for tests that also need real I/O (fetch, HTTP servers). */
export interface ManualClock extends Clock, TimerPort {
  /** Moves time forward, firing due timers in order and letting their promises settle. */
  advance(ms: number): Promise<void>;
}

export function createManualClock(start = 0): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const defer: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => void Promise.resolve().then(fn);
  const settle = () => new Promise<void>((resolve) => defer(resolve));
  return {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
        await settle();
      }
      now = target;
      await settle();
    },
  };
}
