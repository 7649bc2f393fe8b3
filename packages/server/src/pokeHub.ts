const encoder = new TextEncoder();

/** Timers of the event streams (heartbeats, closing at token expiry); injected for tests. */
export interface ServerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** The global timers, unref'd so an idle stream never keeps a process alive. */
export const systemTimers: ServerTimers = {
  setTimeout: (fn, ms) => unref(globalThis.setTimeout(fn, ms)),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => unref(globalThis.setInterval(fn, ms)),
  clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof setInterval>),
};

function unref<T>(handle: T): T {
  (handle as { unref?: () => void }).unref?.();
  return handle;
}

interface Subscriber {
  tenant: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
  heartbeat: unknown;
  expiry: unknown;
}

/** The open /sync/events streams of one server instance, by tenant. */
export class PokeHub {
  private readonly subscribers = new Set<Subscriber>();

  constructor(
    private readonly heartbeatMs: number,
    private readonly timers: ServerTimers = systemTimers,
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  /**
   * A server-sent event stream for `tenant` that starts with a poke of `initialVersion`, and ends
   * after `closeAfterMs` (when the token expires: the client reconnects with a fresh one).
   */
  open(tenant: string, initialVersion: number, signal: AbortSignal | undefined, closeAfterMs: number): ReadableStream<Uint8Array> {
    let subscriber: Subscriber | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const s: Subscriber = { tenant, controller, heartbeat: undefined, expiry: undefined };
        subscriber = s;
        s.heartbeat = this.timers.setInterval(() => this.send(s, ': ping\n\n'), this.heartbeatMs);
        s.expiry = this.timers.setTimeout(() => this.end(s), Math.max(0, closeAfterMs));
        this.subscribers.add(s);
        controller.enqueue(encoder.encode(`retry: 1000\n: connected\n\ndata: ${JSON.stringify({ version: initialVersion })}\n\n`));
        signal?.addEventListener('abort', () => this.end(s));
      },
      cancel: () => {
        if (subscriber) this.drop(subscriber);
      },
    });
  }

  /** Sends `data: {"version":N}` to every stream of the tenant. */
  poke(tenant: string, version: number): void {
    const frame = `data: ${JSON.stringify({ version })}\n\n`;
    for (const s of this.subscribers) if (s.tenant === tenant) this.send(s, frame);
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const s of [...this.subscribers]) this.end(s);
  }

  private end(s: Subscriber): void {
    this.drop(s);
    try {
      s.controller.close();
    } catch {
      // already closed or cancelled
    }
  }

  private drop(s: Subscriber): void {
    this.timers.clearInterval(s.heartbeat);
    this.timers.clearTimeout(s.expiry);
    this.subscribers.delete(s);
  }

  private send(s: Subscriber, frame: string): void {
    try {
      s.controller.enqueue(encoder.encode(frame));
    } catch {
      this.drop(s);
    }
  }
}
