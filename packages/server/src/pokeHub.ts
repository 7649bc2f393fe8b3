const encoder = new TextEncoder();

interface Subscriber {
  tenant: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
  heartbeat: ReturnType<typeof setInterval>;
}

/** The open /sync/events streams of one server instance, by tenant. */
export class PokeHub {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly heartbeatMs: number) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** A server-sent event stream for `tenant` that starts with `initial` as a poke. */
  open(tenant: string, initialVersion: number, signal?: AbortSignal): ReadableStream<Uint8Array> {
    let subscriber: Subscriber | undefined;
    const remove = () => {
      if (!subscriber) return;
      clearInterval(subscriber.heartbeat);
      this.subscribers.delete(subscriber);
      subscriber = undefined;
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const heartbeat = setInterval(() => this.send(controller, ': ping\n\n', remove), this.heartbeatMs);
        (heartbeat as { unref?: () => void }).unref?.();
        subscriber = { tenant, controller, heartbeat };
        this.subscribers.add(subscriber);
        controller.enqueue(encoder.encode(`retry: 1000\n: connected\n\ndata: ${JSON.stringify({ version: initialVersion })}\n\n`));
        signal?.addEventListener('abort', () => {
          remove();
          try {
            controller.close();
          } catch {
            // already closed
          }
        });
      },
      cancel: () => remove(),
    });
  }

  /** Sends `data: {"version":N}` to every stream of the tenant. */
  poke(tenant: string, version: number): void {
    const frame = `data: ${JSON.stringify({ version })}\n\n`;
    for (const s of this.subscribers) {
      if (s.tenant === tenant) this.send(s.controller, frame, () => this.drop(s));
    }
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const s of [...this.subscribers]) {
      this.drop(s);
      try {
        s.controller.close();
      } catch {
        // already closed
      }
    }
  }

  private drop(s: Subscriber): void {
    clearInterval(s.heartbeat);
    this.subscribers.delete(s);
  }

  private send(controller: ReadableStreamDefaultController<Uint8Array>, frame: string, onFail: () => void): void {
    try {
      controller.enqueue(encoder.encode(frame));
    } catch {
      onFail();
    }
  }
}
