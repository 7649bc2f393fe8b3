import {
  InvalidArgumentError,
  NetworkError,
  NexusError,
  toNexusError,
  type Mutation,
  type MutationResult,
  type PullResult,
  type RemoteBackend,
  type PushOptions,
  type PushResult,
  type RemoteCallOptions,
  type RemotePoke,
} from '@nexus-store/core';
import { errorFromResponse } from './classifyResponse.js';
import { nodePost } from './nodePost.js';
import { runtimeBuiltin } from './runtimeBuiltin.js';
import { readServerSentEvents } from './serverSentEvents.js';

/** Timers, injected so tests drive time (fake timers) and apps can use their own scheduler. */
export interface HttpRemoteTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ReconnectOptions {
  /** First delay after a lost event stream, in ms. @default 1000 */
  initialDelayMs?: number;
  /** Longest delay, in ms. @default 30000 */
  maxDelayMs?: number;
  /** Growth per failed attempt. @default 2 */
  multiplier?: number;
}

export interface HttpRemoteOptions {
  /** Base URL of the sync server, e.g. https://sync.example.com (a path prefix is kept). */
  url: string;
  /** A fixed bearer token. Use `getToken` instead when tokens expire. */
  token?: string;
  /**
   * Returns the bearer token. Called before requests; after a 401 it is called once more with
   * `forceRefresh: true` and the request is retried with the new token.
   */
  getToken?: (context: { forceRefresh: boolean }) => string | Promise<string>;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Time allowed per request (until the whole response is read), in ms. @default 30000 */
  timeoutMs?: number;
  /** Request bodies larger than this many bytes are sent gzip-compressed. `Infinity` turns it off. @default 16384 */
  gzipThresholdBytes?: number;
  /** Extra headers on every request. @default {} */
  headers?: Record<string, string>;
  /** @default globalThis.setTimeout / clearTimeout */
  timers?: HttpRemoteTimers;
  /** Jitter source for reconnect backoff, in [0, 1). @default Math.random */
  random?: () => number;
  /** Backoff of the event stream's reconnects. */
  reconnect?: ReconnectOptions;
  /** Told about event-stream failures (each is followed by a reconnect). @default undefined */
  onStreamError?: (error: NexusError) => void;
}

/** A RemoteBackend over HTTP, plus the event stream's state for diagnostics. */
export interface HttpRemote extends RemoteBackend {
  subscribe(onPoke: (poke: RemotePoke) => void): () => void;
}

const encoder = new TextEncoder();

/** What `gzip` needs of node:zlib. */
interface NodeZlib {
  gzipSync(data: Uint8Array | string, options: { level: number }): Uint8Array;
}

/** node:zlib where the runtime lends it (runtimeBuiltin). Looked up per call, so that tests can take it away. */
function nodeZlib(): NodeZlib | undefined {
  return runtimeBuiltin<NodeZlib>('node:zlib');
}

/**
 * A push body: the JSON text, gzipped when it is larger than `threshold` bytes. In Node, zlib at
 * level 1, synchronously, straight from the text: ~0.5 ms per 300 KB of JSON, where TextEncoder
 * alone took 1 ms and CompressionStream 7 ms; and the request can leave at once (a
 * CompressionStream needs turns of the event loop, which the sync engine's own work between requests
 * would delay). Elsewhere (browsers, React Native), the text's UTF-8 bytes through CompressionStream.
 */
async function encodeBody(json: string, threshold: number): Promise<{ body: Uint8Array | string; gzipped: boolean }> {
  // A string of n UTF-16 units is n to 3n bytes of UTF-8: only a text near the threshold is measured.
  if (json.length * 3 <= threshold) return { body: json, gzipped: false };
  const zlib = nodeZlib();
  if (zlib && json.length > threshold) return { body: zlib.gzipSync(json, { level: 1 }), gzipped: true };
  const bytes = encoder.encode(json);
  if (bytes.byteLength <= threshold) return { body: bytes, gzipped: false };
  if (zlib) return { body: zlib.gzipSync(bytes, { level: 1 }), gzipped: true };
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  return { body: new Uint8Array(await new Response(stream).arrayBuffer()), gzipped: true };
}

/**
 * A mutation as sent: `changedFields`, `fieldClocks` and `txId` are left out when null (the server
 * reads a missing one as null). A seventh less JSON per mutation, and ~1 ms less to encode 1,000.
 */
function wireMutation(m: Mutation): Partial<Mutation> {
  const wire: Partial<Mutation> = { mutationId: m.mutationId, clientId: m.clientId, collection: m.collection, key: m.key, op: m.op, data: m.data, baseVersion: m.baseVersion, hlc: m.hlc, priority: m.priority };
  if (m.changedFields != null) wire.changedFields = m.changedFields;
  if (m.fieldClocks != null) wire.fieldClocks = m.fieldClocks;
  if (m.txId != null) wire.txId = m.txId;
  return wire;
}

/**
 * The results a compact answer `{ applied: { version, count } }` stands for: every mutation applied,
 * in order, at `version`, `version + 1`, …; undefined when it is not that (a PROTOCOL error).
 */
function appliedResults(applied: unknown, mutations: readonly Mutation[]): MutationResult[] | undefined {
  const { version, count } = (applied ?? {}) as { version?: unknown; count?: unknown };
  if (!Number.isSafeInteger(version) || (version as number) < 1 || count !== mutations.length) return undefined;
  return mutations.map((m, i) => ({ mutationId: m.mutationId, status: 'applied', version: (version as number) + i }));
}

function isMutationResult(value: unknown): value is MutationResult {
  const r = value as MutationResult | null;
  return typeof r === 'object' && r !== null && typeof r.mutationId === 'string' && ['applied', 'duplicate', 'conflict', 'rejected'].includes(r.status);
}

/**
 * The client side of the nexus-store sync protocol over fetch: push, pull and live pokes over
 * server-sent events, with timeouts, error classification, token refresh and gzip.
 */
export function httpRemote(options: HttpRemoteOptions): HttpRemote {
  if (!options.url) throw new InvalidArgumentError('httpRemote needs url, e.g. httpRemote({ url: "https://sync.example.com", getToken }).');
  if (options.token === undefined && options.getToken === undefined) throw new InvalidArgumentError('httpRemote needs token or getToken.');
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  // Pushes over node:http where it is there and no fetch was given (see nodePost).
  const post = options.fetch ? undefined : nodePost();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const gzipThreshold = options.gzipThresholdBytes ?? 16_384;
  const timers: HttpRemoteTimers = options.timers ?? {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  };
  const random = options.random ?? Math.random;
  /** Push bodies encoded ahead by `preparePush`, by the batch they encode. */
  const prepared = new WeakMap<Mutation[], Promise<{ body: Uint8Array | string; gzipped: boolean }>>();
  const encodePush = (mutations: Mutation[]) => encodeBody(JSON.stringify({ clientId: mutations[0]!.clientId, mutations: mutations.map(wireMutation) }), gzipThreshold);
  const reconnect = { initialDelayMs: 1000, maxDelayMs: 30_000, multiplier: 2, ...options.reconnect };

  async function token(forceRefresh: boolean): Promise<string> {
    if (options.getToken) return options.getToken({ forceRefresh });
    return options.token!;
  }

  /**
   * One request, with the 401 → refresh → retry-once rule. `read` consumes the response inside the
   * timeout window. Caller aborts become ABORTED, the timeout TIMEOUT, fetch failures NETWORK.
   */
  async function request<T>(
    what: string,
    path: string,
    init: { method: string; body?: Uint8Array | string; headers?: Record<string, string> },
    signal: AbortSignal | undefined,
    read: (response: Response) => Promise<T>,
    streaming = false,
  ): Promise<T> {
    // nodePost answers the part of a Response that push reads (status, ok, text, body).
    const send = init.method === 'POST' && post ? (post as unknown as typeof doFetch) : doFetch;
    const timeout = timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new NetworkError('ABORTED', `${what} was cancelled.`, { cause: signal.reason });
      const bearer = await token(attempt > 0);
      const controller = new AbortController();
      let timedOut = false;
      const onAbort = () => controller.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = timers.setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('timeout'));
      }, timeout);
      try {
        let response: Response;
        try {
          response = await send(`${base}${path}`, {
            method: init.method,
            headers: { accept: 'application/json', ...options.headers, ...init.headers, authorization: `Bearer ${bearer}` },
            body: init.body as BodyInit | undefined,
            signal: controller.signal,
          });
        } catch (error) {
          throw failure(error, what, timedOut, signal, timeout);
        }
        if (response.status === 401 && attempt === 0 && options.getToken) {
          await response.body?.cancel().catch(() => undefined);
          continue;
        }
        try {
          return await read(response);
        } catch (error) {
          if (error instanceof NexusError) throw error;
          throw failure(error, what, timedOut, signal, timeout);
        }
      } finally {
        timers.clearTimeout(timer);
        // A stream keeps reading after this returns: the caller's signal must still cancel it.
        if (!streaming) signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  function failure(error: unknown, what: string, timedOut: boolean, signal: AbortSignal | undefined, timeout: number): NexusError {
    if (timedOut) return new NetworkError('TIMEOUT', `${what} got no answer within ${timeout} ms; will retry.`, { cause: error });
    if (signal?.aborted) return new NetworkError('ABORTED', `${what} was cancelled.`, { cause: error });
    return new NetworkError('NETWORK', `${what} could not reach ${base}: ${(error as Error)?.message ?? String(error)}; will retry.`, { cause: error });
  }

  async function json(response: Response, what: string): Promise<unknown> {
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response.status, text, what);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new NetworkError('PROTOCOL', `${what} answered ${response.status} with a body that is not JSON; is ${base} a nexus-store server?`, { cause: error, status: response.status });
    }
  }

  return {
    preparePush(mutations: Mutation[]): void {
      if (mutations.length === 0 || prepared.has(mutations)) return;
      const body = encodePush(mutations);
      body.catch(() => undefined); // surfaces in push()
      prepared.set(mutations, body);
    },

    async push(mutations: Mutation[], callOptions: PushOptions = {}): Promise<MutationResult[] | PushResult> {
      if (mutations.length === 0) return [];
      const what = `POST ${base}/sync/push`;
      const encoded = prepared.get(mutations) ?? encodePush(mutations);
      prepared.delete(mutations);
      const { body, gzipped } = await encoded;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (gzipped) headers['content-encoding'] = 'gzip';
      // The cursor goes in the query, so that the body can be encoded before it is known (preparePush).
      // `answer=compact`: a batch applied whole comes back as its first version and count (a server
      // that does not know the parameter answers every result, which reads the same).
      const path = callOptions.cursor === undefined ? '/sync/push?answer=compact' : `/sync/push?answer=compact&cursor=${encodeURIComponent(callOptions.cursor ?? 'null')}`;
      const parsed = (await request(what, path, { method: 'POST', body, headers }, callOptions.signal, (r) => json(r, what))) as { results?: unknown; applied?: unknown; cursor?: unknown };
      const results = parsed?.applied === undefined ? parsed?.results : appliedResults(parsed.applied, mutations);
      if (!Array.isArray(results) || results.length !== mutations.length || !results.every(isMutationResult)) {
        throw new NetworkError('PROTOCOL', `${what} answered a body without one result per mutation.`);
      }
      return typeof parsed.cursor === 'string' ? { results, cursor: parsed.cursor } : results;
    },

    async pull(cursor: string | null, limit: number, callOptions: RemoteCallOptions = {}): Promise<PullResult> {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor !== null) query.set('cursor', cursor);
      const what = `GET ${base}/sync/pull`;
      const parsed = (await request(what, `/sync/pull?${query.toString()}`, { method: 'GET' }, callOptions.signal, (r) => json(r, what))) as PullResult;
      if (!parsed || !Array.isArray(parsed.changes) || typeof parsed.cursor !== 'string' || typeof parsed.hasMore !== 'boolean') {
        throw new NetworkError('PROTOCOL', `${what} answered a body that is not { changes, cursor, hasMore }.`);
      }
      return parsed;
    },

    subscribe(onPoke: (poke: RemotePoke) => void): () => void {
      let stopped = false;
      let attempt = 0;
      let controller: AbortController | undefined;
      let timer: unknown;
      const what = `GET ${base}/sync/events`;

      const connect = async () => {
        timer = undefined;
        if (stopped) return;
        controller = new AbortController();
        try {
          // The timeout covers connecting only (until the headers); the stream itself stays open.
          const response = await request(what, '/sync/events', { method: 'GET', headers: { accept: 'text/event-stream' } }, controller.signal, async (r) => {
            if (!r.ok) throw errorFromResponse(r.status, await r.text(), what);
            if (!r.body) throw new NetworkError('PROTOCOL', `${what} answered without a stream.`);
            return r;
          }, true);
          attempt = 0;
          await readServerSentEvents(response.body!, (event) => {
            if (event.event !== 'message') return;
            let poke: RemotePoke = {};
            try {
              const data = JSON.parse(event.data) as { version?: unknown };
              if (typeof data?.version === 'number') poke = { version: data.version };
            } catch {
              // A poke without a readable version still means "pull now".
            }
            onPoke(poke);
          });
          if (!stopped) options.onStreamError?.(new NetworkError('NETWORK', `${what}: the server ended the event stream; reconnecting.`));
        } catch (error) {
          if (stopped) return;
          options.onStreamError?.(toNexusError(error));
        }
        schedule();
      };

      const schedule = () => {
        if (stopped) return;
        const ceiling = Math.min(reconnect.maxDelayMs, reconnect.initialDelayMs * reconnect.multiplier ** attempt);
        attempt += 1;
        // Half fixed, half jitter: instances that lost one server do not all come back at once.
        timer = timers.setTimeout(() => void connect(), ceiling / 2 + (random() * ceiling) / 2);
      };

      void connect();
      return () => {
        stopped = true;
        controller?.abort();
        if (timer !== undefined) timers.clearTimeout(timer);
      };
    },
  };
}
