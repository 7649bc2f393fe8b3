import { z } from 'zod';
import { createNexus, memoryStorage, type ConflictPolicy, type LocalStorage, type Nexus, type NexusOptions, type RemoteBackend, type WriteTransaction } from '@nexus-store/core';
import { createMemoryStorageState, type MemoryStorageState } from '@nexus-store/core/testing';

export const ContactSchema = z.object({
  id: z.string(),
  name: z.string().min(1),
  phone: z.string().optional(),
  email: z.string().optional(),
  score: z.number().optional(),
  status: z.enum(['open', 'won', 'lost']).optional(),
});
export type Contact = z.infer<typeof ContactSchema>;

/** A fake clock: time moves only when the test says so; timers fire on advance(). */
export function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn: () => void, ms: number) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle: unknown) {
      timers.delete(handle as number);
    },
    pendingTimers: () => [...timers.values()].map((t) => t.at - now),
    async advance(ms: number) {
      const target = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
        await new Promise((r) => setImmediate(r));
      }
      now = target;
    },
  };
}

export interface Device {
  nexus: Nexus;
  contacts: ReturnType<Nexus['store']> & { save(c: Contact, p?: any): Promise<Contact> };
  state: MemoryStorageState;
}

/** A proxy of `target` whose properties in `overrides` are replaced (methods of the target stay bound to it). */
export function overriding<O extends object>(target: O, overrides: Partial<Record<keyof O, unknown>>): O {
  return new Proxy(target, {
    get: (t, name) => {
      if (Object.hasOwn(overrides, name)) return overrides[name as keyof O];
      const value: unknown = Reflect.get(t, name, t);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });
}

/** A memory storage without the optional fast paths (`markOutbox`, `ackOutbox`), like an adapter that lacks them. */
export function withoutFastPaths(storage: LocalStorage): LocalStorage {
  return overriding(storage, {
    write: <T>(body: (tx: WriteTransaction) => Promise<T>) => storage.write((tx) => body(overriding(tx, { markOutbox: undefined, ackOutbox: undefined }))),
  });
}

export async function device(
  remote: RemoteBackend | undefined,
  options: Partial<NexusOptions> & { clientId?: string; conflict?: ConflictPolicy<Contact>; unique?: ('phone' | 'email')[]; state?: MemoryStorageState; fastPaths?: boolean } = {},
) {
  const state = options.state ?? createMemoryStorageState();
  const { conflict, unique, state: _s, fastPaths = true, ...rest } = options;
  const storage = memoryStorage({ state });
  const nexus = await createNexus({ storage: fastPaths ? storage : withoutFastPaths(storage), remote, ...rest });
  const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id', conflict, unique, indexes: ['status', 'score'] });
  return { nexus, contacts, state };
}
