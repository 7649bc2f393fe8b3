import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { InvalidArgumentError } from '@nexus-store/core';
import type { CollectionsConfig } from './applyPush.js';
import { jsonLogger, type ServerLogger } from './jsonLogger.js';
import { hashPassword } from './passwordHash.js';
import { PokeHub, type ServerTimers } from './pokeHub.js';
import type { CompactResult, ServerStore } from './serverStore.js';
import { sqliteServerStore } from './sqliteServerStore.js';
import { createSyncHandler, DEFAULT_LIMITS, type SyncServerLimits } from './syncHandler.js';
import { createTokenIssuer, DEFAULT_TENANT } from './tokenIssuer.js';

export interface SyncServerAuthOptions {
  /** Secret of the HS256 tokens; at least 32 characters. */
  jwtSecret: string;
  /** Lifetime of issued tokens, in seconds. @default 3600 */
  tokenTtl?: number;
  /** Bearer token of the admin API (POST /admin/users). Without it the admin API answers 403. @default undefined */
  adminToken?: string;
}

export interface SyncServerOptions {
  /** Where records live. @default sqliteServerStore({ filename: 'nexus-store.db' }) */
  database?: ServerStore;
  auth: SyncServerAuthOptions;
  /**
   * Known collections, with an optional zod schema and unique fields each. When given, a push to any
   * other collection is refused with 400 UNKNOWN_COLLECTION. @default undefined (any collection)
   */
  collections?: CollectionsConfig;
  /** Protocol size limits. @default DEFAULT_LIMITS */
  limits?: SyncServerLimits;
  /** Structured logs. @default jsonLogger() (JSON lines on stdout, level info) */
  logger?: ServerLogger;
  /** Clock, in epoch ms (tokens, compaction ages). @default Date.now */
  now?: () => number;
  /** Interval of the keep-alive comments on /sync/events, in ms. @default 25000 */
  heartbeatMs?: number;
  /** How long close() waits for in-flight requests before cutting connections, in ms. @default 10000 */
  closeTimeoutMs?: number;
  /**
   * Browser origins allowed to call the server (CORS), e.g. 'https://app.example.com' or a list;
   * '*' allows any. @default undefined (no CORS headers: same-origin or non-browser clients only)
   */
  corsOrigins?: string | string[];
  /** Timers of the event streams (heartbeats, closing at token expiry). @default the global timers */
  timers?: ServerTimers;
}

export interface SyncServer {
  /** Starts a Node HTTP server. `port` 0 picks a free port. */
  listen(port?: number, host?: string): Promise<{ url: string }>;
  /** Stops accepting requests, ends event streams, lets in-flight requests finish, then closes the store. */
  close(): Promise<void>;
  /** A Node request handler, to mount in an existing server. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The Web-standard handler: Request in, Response out. */
  readonly fetch: (request: Request) => Promise<Response>;
  /** A token for `subject` (tests and tooling). Tenant @default 'default' */
  issueToken(subject: string, options?: { tenant?: string }): Promise<string>;
  /** Adds or replaces a user who can log in at POST /auth/login. Tenant @default 'default' */
  addUser(username: string, password: string, options?: { tenant?: string }): Promise<void>;
  /** Removes tombstones and dedup records older than `olderThanMs`; older cursors then get 410 CURSOR_EXPIRED. */
  compact(options: { olderThanMs: number }): Promise<CompactResult>;
  /** The store, opened. */
  readonly store: ServerStore;
}

/** The reference sync server: the protocol handler over a SQLite or PostgreSQL store, with a thin Node binding. */
export function createSyncServer(options: SyncServerOptions): SyncServer {
  if (!options.auth?.jwtSecret || options.auth.jwtSecret.length < 32) {
    throw new InvalidArgumentError('createSyncServer needs auth.jwtSecret of at least 32 characters (e.g. `openssl rand -hex 32`).');
  }
  const store = options.database ?? sqliteServerStore({ filename: 'nexus-store.db' });
  const logger = options.logger ?? jsonLogger();
  const now = options.now ?? Date.now;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const tokens = createTokenIssuer(options.auth.jwtSecret, options.auth.tokenTtl ?? 3600, now);
  const hub = new PokeHub(options.heartbeatMs ?? 25_000, options.timers);
  const ready = store.open();
  ready.catch((error: unknown) => logger.error('store_open_failed', { error: (error as Error).message }));
  const unsubscribe = store.subscribePokes((tenant, version) => hub.poke(tenant, version));

  const app = createSyncHandler({ store, tokens, hub, collections: options.collections, limits, logger, now, adminToken: options.auth.adminToken, ready, corsOrigins: options.corsOrigins });
  const fetch = async (request: Request): Promise<Response> => app.fetch(request);
  const listener = getRequestListener(fetch);
  const servers = new Set<Server>();
  const active = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let closing: Promise<void> | undefined;
  // Tracks responses in flight so close() can ask their keep-alive connections to end after them.
  const endIdleSockets = () => {
    const busy = new Set([...active].map((res) => res.socket));
    for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (closing && !res.headersSent) res.setHeader('connection', 'close');
    active.add(res);
    res.once('close', () => {
      active.delete(res);
      // While closing, a connection that just went idle should not linger for its keep-alive timeout.
      if (closing) setImmediate(endIdleSockets);
    });
    void listener(req, res);
  };

  return {
    store,
    handler,
    fetch,

    async listen(port = 8787, host) {
      await ready;
      const server = createServer(handler);
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.add(server);
      const address = server.address() as AddressInfo;
      const shown = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      logger.info('listening', { url: `http://${shown}:${address.port}`, store: store.kind });
      return { url: `http://${shown}:${address.port}` };
    },

    close() {
      closing ??= (async () => {
        hub.closeAll();
        for (const res of active) if (!res.headersSent) res.setHeader('connection', 'close');
        await Promise.all(
          [...servers].map(
            (server) =>
              new Promise<void>((resolve) => {
                const timer = setTimeout(() => server.closeAllConnections(), options.closeTimeoutMs ?? 10_000);
                timer.unref();
                server.close(() => {
                  clearTimeout(timer);
                  resolve();
                });
                endIdleSockets();
              }),
          ),
        );
        unsubscribe();
        await ready.catch(() => undefined);
        await store.close();
        logger.info('closed', {});
      })();
      return closing;
    },

    issueToken(subject, opts) {
      return tokens.issue(subject, opts);
    },

    async addUser(username, password, opts = {}) {
      await ready;
      await store.putUser({ username, passwordHash: await hashPassword(password), tenant: opts.tenant ?? DEFAULT_TENANT, createdAt: now() });
    },

    async compact({ olderThanMs }) {
      await ready;
      const result = await store.compact(now() - olderThanMs);
      logger.info('compacted', { olderThanMs, ...result });
      return result;
    },
  };
}
