import type { DocChangeRef } from '@nexus-store/core';

interface ChangesMessage {
  type: 'nexus-store/changes';
  changes: DocChangeRef[];
}

const isRef = (ref: unknown): ref is DocChangeRef =>
  typeof ref === 'object' && ref !== null && typeof (ref as DocChangeRef).collection === 'string' && typeof (ref as DocChangeRef).key === 'string';

function isChangesMessage(value: unknown): value is ChangesMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as ChangesMessage;
  return message.type === 'nexus-store/changes' && Array.isArray(message.changes) && message.changes.every(isRef);
}

/** Announces committed document changes to the other connections of one database over a BroadcastChannel. */
export class ChangeChannel {
  private readonly channel: BroadcastChannel;
  private readonly listeners = new Set<(changes: readonly DocChangeRef[]) => void>();

  constructor(Channel: typeof BroadcastChannel, channelName: string) {
    this.channel = new Channel(channelName);
    this.channel.onmessage = (event: MessageEvent) => {
      if (!isChangesMessage(event.data)) return;
      for (const listener of [...this.listeners]) listener(event.data.changes);
    };
  }

  subscribe(listener: (changes: readonly DocChangeRef[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  announce(changes: readonly DocChangeRef[]): void {
    this.channel.postMessage({ type: 'nexus-store/changes', changes: [...changes] } satisfies ChangesMessage);
  }

  close(): void {
    this.channel.close();
  }
}

const localTails = new Map<string, Promise<unknown>>();

/**
 * A lock for runtimes without Web Locks (Node, old browsers): it excludes the connections of this
 * JavaScript realm only.
 */
export async function localLock<R>(name: string, fn: () => Promise<R>): Promise<R> {
  const previous = localTails.get(name) ?? Promise.resolve();
  let release!: () => void;
  const tail = new Promise<void>((resolve) => (release = resolve));
  localTails.set(name, tail);
  await previous.catch(() => undefined);
  try {
    return await fn();
  } finally {
    release();
    if (localTails.get(name) === tail) localTails.delete(name);
  }
}
