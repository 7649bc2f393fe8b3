import { NetworkError } from '../errors.js';
import type { RemoteBackend } from '../remoteBackend.js';

export interface FaultOptions {
  /** Source of randomness (seeded in tests). */
  random: () => number;
  /** Probability a push fails with a 503 before the server applied it. @default 0 */
  failBeforeApply?: number;
  /** Probability a push is applied but its response is lost. @default 0 */
  failAfterApply?: number;
  /** Probability a push is delivered twice (the answer to the second delivery is returned). @default 0 */
  duplicate?: number;
  /** Probability a pull fails with a timeout. @default 0 */
  failPull?: number;
  /** Waits before each call, e.g. `() => new Promise(r => setTimeout(r, 5))`. An aborted call stops waiting. @default none */
  delay?: (signal?: AbortSignal) => Promise<void>;
}

export interface FaultyRemote extends RemoteBackend {
  readonly faults: { failBeforeApply: number; failAfterApply: number; duplicate: number; failPull: number };
  /** Turns fault injection off (true) or on again. */
  heal(healed?: boolean): void;
}

/** Wraps a remote and injects network faults: drops, lost responses, duplicates, 5xx, delays. */
export function createFaultyRemote(inner: RemoteBackend, options: FaultOptions): FaultyRemote {
  const faults = { failBeforeApply: 0, failAfterApply: 0, duplicate: 0, failPull: 0 };
  let healed = false;
  const wait = async (signal: AbortSignal | undefined) => {
    if (options.delay) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new NetworkError('ABORTED', 'The call was aborted while delayed.', { cause: signal?.reason }));
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        options.delay!(signal).then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
      });
    }
    if (signal?.aborted) throw new NetworkError('ABORTED', 'The call was aborted.', { cause: signal.reason });
  };
  const roll = (p: number | undefined) => !healed && p !== undefined && p > 0 && options.random() < p;
  return {
    faults,
    heal(next = true) {
      healed = next;
    },
    async push(mutations, callOptions) {
      await wait(callOptions?.signal);
      if (roll(options.failBeforeApply)) {
        faults.failBeforeApply++;
        throw new NetworkError('SERVER', 'Injected fault: 503 before the server applied the push.', { status: 503 });
      }
      if (roll(options.duplicate)) {
        faults.duplicate++;
        await inner.push(mutations, callOptions);
        return inner.push(mutations, callOptions);
      }
      const results = await inner.push(mutations, callOptions);
      if (roll(options.failAfterApply)) {
        faults.failAfterApply++;
        throw new NetworkError('NETWORK', 'Injected fault: the push was applied but its response was lost.');
      }
      return results;
    },
    async pull(cursor, limit, callOptions) {
      await wait(callOptions?.signal);
      if (roll(options.failPull)) {
        faults.failPull++;
        throw new NetworkError('TIMEOUT', 'Injected fault: the pull timed out.');
      }
      return inner.pull(cursor, limit, callOptions);
    },
    subscribe: inner.subscribe ? (onPoke) => inner.subscribe!(onPoke) : undefined,
  };
}
