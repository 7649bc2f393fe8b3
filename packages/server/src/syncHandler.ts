import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { Mutation, MutationResult, PullResult } from '@nexus-store/core';
import { applyPush, type CollectionsConfig } from './applyPush.js';
import type { ServerLogger } from './jsonLogger.js';
import { hashPassword, verifyPassword } from './passwordHash.js';
import type { PokeHub } from './pokeHub.js';
import { CURSOR, createUserBodySchema, describeZodError, loginBodySchema, parsePushBody } from './protocolSchemas.js';
import { BodyError, readJsonBody } from './requestBody.js';
import type { ServerStore } from './serverStore.js';
import { DEFAULT_TENANT, type TokenClaims, type TokenIssuer } from './tokenIssuer.js';

/** Size limits of the protocol. Every limit answers a 4xx, never a 5xx. */
export interface SyncServerLimits {
  /** Largest request body in bytes, after gzip decompression. @default 4194304 (4 MiB) */
  maxBodyBytes?: number;
  /** Most mutations in one push. @default 500 */
  maxMutations?: number;
  /** Longest record key, in characters. @default 256 */
  maxKeyLength?: number;
  /** Largest page a pull returns; larger `limit`s are clamped. @default 1000 */
  maxPullLimit?: number;
  /** Page size of a pull without `limit`. @default 100 */
  defaultPullLimit?: number;
  /** Failed logins per username within `loginWindowMs` before further attempts get 429 (per server instance). @default 5 */
  maxLoginFailures?: number;
  /** @default 900000 (15 minutes) */
  loginWindowMs?: number;
}

export const DEFAULT_LIMITS: Required<SyncServerLimits> = {
  maxBodyBytes: 4_194_304,
  maxMutations: 500,
  maxKeyLength: 256,
  maxPullLimit: 1000,
  defaultPullLimit: 100,
  maxLoginFailures: 5,
  loginWindowMs: 900_000,
};

export interface SyncHandlerContext {
  store: ServerStore;
  tokens: TokenIssuer;
  hub: PokeHub;
  collections: CollectionsConfig | undefined;
  limits: Required<SyncServerLimits>;
  logger: ServerLogger;
  now: () => number;
  adminToken: string | undefined;
  /** Resolves once the store is open; every request waits for it. */
  ready: Promise<void>;
  /** Allowed browser origins (CORS). @default undefined (no CORS headers) */
  corsOrigins: string | string[] | undefined;
}

type Env = { Variables: { claims: TokenClaims } };

/** A cursor in a query: '' or 'null' is 0 (never pulled), digits their number, anything else NaN. */
function cursorFromQuery(value: string): number {
  if (value === '' || value === 'null') return 0;
  return CURSOR.test(value) ? Number(value) : Number.NaN;
}
const LIMIT = /^\d{1,9}$/;

/**
 * A push's answer: `{ results, cursor? }`, or for a client that asks `?answer=compact`, when every
 * mutation was applied at consecutive versions (a fresh batch), `{ applied: { version, count }, cursor? }`:
 * `count` results `applied` at `version`, `version + 1`, … in order. For a push of 1,000 that is
 * ~40 bytes instead of ~60 KB to encode, send and parse.
 */
function pushAnswer(results: MutationResult[], cursor: string | undefined, compact: boolean) {
  const first = results[0];
  const inARow = compact && first?.status === 'applied' && results.every((r, i) => r.status === 'applied' && r.version === first.version + i);
  const answer = inARow ? { applied: { version: first.version, count: results.length } } : { results };
  return cursor === undefined ? answer : { ...answer, cursor };
}

function fail(c: Context, status: 400 | 401 | 403 | 404 | 405 | 410 | 413 | 415 | 429, code: string, message: string) {
  return c.json({ error: { code, message } }, status);
}

function bearer(c: Context): string | null {
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1]! : null;
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The protocol as a Web-standard Hono app: Request in, Response out, over an async ServerStore. */
export function createSyncHandler(ctx: SyncHandlerContext): Hono<Env> {
  const { store, tokens, hub, collections, limits, logger, now } = ctx;
  const app = new Hono<Env>();
  // A hash to compare against for unknown users, so a login takes as long whether the user exists or not.
  const dummyHash = hashPassword('not-a-real-password-for-timing');
  // Failed logins per username: a brake on password guessing (per instance, in memory).
  const failures = new Map<string, { count: number; since: number }>();
  const throttled = (username: string): boolean => {
    const f = failures.get(username);
    if (!f) return false;
    if (now() - f.since > limits.loginWindowMs) {
      failures.delete(username);
      return false;
    }
    return f.count >= limits.maxLoginFailures;
  };
  const recordFailure = (username: string) => {
    const f = failures.get(username);
    if (f && now() - f.since <= limits.loginWindowMs) f.count += 1;
    else failures.set(username, { count: 1, since: now() });
    if (failures.size > 10_000) failures.delete(failures.keys().next().value!);
  };

  app.onError((error, c) => {
    if (error instanceof BodyError) return fail(c, error.status, error.code, error.message);
    logger.error('request_failed', { method: c.req.method, path: c.req.path, error: (error as Error).message, code: (error as { code?: unknown }).code });
    return c.json({ error: { code: 'INTERNAL', message: 'The sync server failed to handle the request; it is safe to retry.' } }, 500);
  });
  app.notFound((c) => fail(c, 404, 'NOT_FOUND', `No route ${c.req.method} ${c.req.path}.`));

  if (ctx.corsOrigins !== undefined) {
    app.use('*', cors({ origin: ctx.corsOrigins, allowHeaders: ['authorization', 'content-type', 'content-encoding'], allowMethods: ['GET', 'POST', 'OPTIONS'], maxAge: 600 }));
  }
  app.use('*', async (_c, next) => {
    await ctx.ready;
    await next();
  });

  app.get('/health', async (c) => c.json({ status: 'ok', store: store.kind, eventStreams: hub.size }));

  app.post('/auth/login', async (c) => {
    const parsed = loginBodySchema.safeParse(await readJsonBody(c.req.raw, limits.maxBodyBytes));
    if (!parsed.success) return fail(c, 400, 'VALIDATION', `Invalid login body: ${describeZodError(parsed.error)}`);
    if (throttled(parsed.data.username)) {
      logger.warn('login_throttled', { username: parsed.data.username });
      return fail(c, 429, 'TOO_MANY_ATTEMPTS', `Too many failed logins for this user; try again in ${Math.round(limits.loginWindowMs / 60_000)} minutes.`);
    }
    const user = await store.getUser(parsed.data.username);
    const ok = await verifyPassword(parsed.data.password, user?.passwordHash ?? (await dummyHash));
    if (!user || !ok) {
      recordFailure(parsed.data.username);
      logger.warn('login_failed', { username: parsed.data.username });
      return fail(c, 401, 'INVALID_CREDENTIALS', 'Unknown username or wrong password.');
    }
    failures.delete(user.username);
    logger.info('login', { username: user.username, tenant: user.tenant });
    return c.json({ token: await tokens.issue(user.username, { tenant: user.tenant }) });
  });

  app.post('/admin/users', async (c) => {
    const token = bearer(c);
    if (!ctx.adminToken) return fail(c, 403, 'FORBIDDEN', 'The admin API is disabled: start the server with auth.adminToken.');
    if (!token || !constantTimeEqual(token, ctx.adminToken)) return fail(c, 401, 'UNAUTHORIZED', 'The admin API needs Authorization: Bearer <admin token>.');
    const parsed = createUserBodySchema.safeParse(await readJsonBody(c.req.raw, limits.maxBodyBytes));
    if (!parsed.success) return fail(c, 400, 'VALIDATION', `Invalid user body: ${describeZodError(parsed.error)}`);
    const { username, password, tenant = DEFAULT_TENANT } = parsed.data;
    await store.putUser({ username, passwordHash: await hashPassword(password), tenant, createdAt: now() });
    logger.info('user_added', { username, tenant });
    return c.json({ username, tenant }, 201);
  });

  app.use('/sync/*', async (c, next) => {
    const token = bearer(c);
    if (!token) return fail(c, 401, 'UNAUTHORIZED', 'Sync calls need Authorization: Bearer <token>; log in at POST /auth/login.');
    const claims = await tokens.verify(token);
    if (!claims) return fail(c, 401, 'UNAUTHORIZED', 'The token is expired or invalid; log in again.');
    c.set('claims', claims);
    await next();
  });

  app.post('/sync/push', async (c) => {
    const { tenant, subject } = c.get('claims');
    const body = await readJsonBody(c.req.raw, limits.maxBodyBytes);
    const count = (body as { mutations?: unknown } | null)?.mutations;
    if (Array.isArray(count) && count.length > limits.maxMutations) {
      return fail(c, 413, 'TOO_MANY_MUTATIONS', `A push may carry at most ${limits.maxMutations} mutations; this one has ${count.length}. Split the batch.`);
    }
    const parsed = parsePushBody(body);
    if (!parsed.success) return fail(c, 400, 'VALIDATION', `Invalid push body: ${describeZodError(parsed.error)}`);
    const { clientId } = parsed.data;
    const mutations = parsed.data.mutations as Mutation[];
    for (const [i, m] of mutations.entries()) {
      if (m.key.length > limits.maxKeyLength) return fail(c, 400, 'KEY_TOO_LONG', `mutations.${i}.key is ${m.key.length} characters; the limit is ${limits.maxKeyLength}.`);
      if (m.clientId !== clientId) return fail(c, 400, 'VALIDATION', `mutations.${i}.clientId differs from the push's clientId.`);
      if (collections && !Object.hasOwn(collections, m.collection)) {
        return fail(c, 400, 'UNKNOWN_COLLECTION', `mutations.${i}.collection "${m.collection}" is not a collection of this server (known: ${Object.keys(collections).join(', ')}).`);
      }
    }
    const started = now();
    // The client's pull cursor (0: it never pulled): in the query, where httpRemote sends it, or in the body.
    const queryCursor = c.req.query('cursor');
    const sentCursor = queryCursor !== undefined ? cursorFromQuery(queryCursor) : parsed.data.cursor === undefined ? undefined : Number(parsed.data.cursor ?? 0);
    if (Number.isNaN(sentCursor)) return fail(c, 400, 'VALIDATION', 'cursor must be a cursor returned by a pull (digits), or null.');
    const { results, cursor } = await store.write(tenant, (tx) => applyPush(tx, clientId, mutations, collections, now(), sentCursor));
    const counts: Record<string, number> = {};
    for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
    logger.info('push', { tenant, subject, clientId, mutations: mutations.length, ...counts, ms: now() - started });
    return c.json(pushAnswer(results, cursor, c.req.query('answer') === 'compact'));
  });

  app.get('/sync/pull', async (c) => {
    const { tenant } = c.get('claims');
    const cursorParam = c.req.query('cursor') ?? '';
    const limitParam = c.req.query('limit');
    const after = cursorFromQuery(cursorParam);
    if (Number.isNaN(after)) return fail(c, 400, 'VALIDATION', 'cursor must be a cursor returned by a previous pull (digits), or empty.');
    if (limitParam !== undefined && (!LIMIT.test(limitParam) || Number(limitParam) < 1)) return fail(c, 400, 'VALIDATION', 'limit must be a positive integer.');
    const limit = Math.min(limitParam === undefined ? limits.defaultPullLimit : Number(limitParam), limits.maxPullLimit);
    const page = await store.pull(tenant, after, limit);
    logger.debug('pull', { tenant, after, limit, changes: Math.min(page.changes.length, limit) });
    if (after > 0 && after < page.horizon) {
      return fail(c, 410, 'CURSOR_EXPIRED', `The cursor ${after} is older than the compaction horizon ${page.horizon}; resync from cursor null.`);
    }
    const changes = page.changes.slice(0, limit);
    const result: PullResult = {
      changes,
      cursor: changes.length > 0 ? String(changes[changes.length - 1]!.version) : String(after),
      hasMore: page.changes.length > limit,
    };
    return c.json(result);
  });

  app.get('/sync/events', async (c) => {
    const { tenant, expiresAt } = c.get('claims');
    const stream = hub.open(tenant, await store.latestVersion(tenant), c.req.raw.signal, expiresAt - now());
    return new Response(stream, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' },
    });
  });

  return app;
}
