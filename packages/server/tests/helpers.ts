import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mutation } from '@nexus-store/core';
import { postgresServerStore, sqliteServerStore, type ServerStore } from '@nexus-store/server';
import { TEST_POSTGRES_URL, dropPostgresSchemas, postgresAvailable } from '@nexus-store/server/testing';

export const PG_URL = TEST_POSTGRES_URL;
export const SECRET = 'test-secret-test-secret-test-secret-0123';
export { postgresAvailable };

export interface StoreFactory {
  /** A new store on fresh storage. Calling `again()` opens another store over the same storage (a restart or a second instance). */
  create(): { store: ServerStore; again: (options?: { listenRetryMs?: number }) => ServerStore; schema: string };
  /** Drops all storage made by create(). */
  cleanup(): Promise<void>;
}

export function sqliteFactory(): StoreFactory {
  const dirs: string[] = [];
  return {
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'nexus-server-'));
      dirs.push(dir);
      const filename = join(dir, 'server.db');
      return { store: sqliteServerStore({ filename }), again: () => sqliteServerStore({ filename }), schema: filename };
    },
    async cleanup() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

export function postgresFactory(): StoreFactory {
  const schemas: string[] = [];
  return {
    create() {
      const schema = `nexus_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      schemas.push(schema);
      return {
        store: postgresServerStore({ connectionString: PG_URL, schema, poolSize: 12, listenRetryMs: 20 }),
        again: (o = {}) => postgresServerStore({ connectionString: PG_URL, schema, poolSize: 12, ...o }),
        schema,
      };
    },
    async cleanup() {
      await dropPostgresSchemas(schemas.splice(0));
    },
  };
}

/** A valid upsert mutation with sensible defaults (shared with the other packages' tests). */
export { makeMutation as mutation } from '@nexus-store/core/testing';

/** Tiny client for server-level tests: raw fetch, no httpRemote. */
export function api(url: string, token: string) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return {
    /** `query`: appended to the path as it is, e.g. '?answer=compact'. */
    async push(mutations: Mutation[], clientId = mutations[0]?.clientId ?? 'client-a', cursor?: string | null, query = '') {
      const body = cursor === undefined ? { clientId, mutations } : { clientId, mutations, cursor };
      const res = await fetch(`${url}/sync/push${query}`, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    },
    async pull(cursor: string | null = null, limit?: number) {
      const qs = new URLSearchParams();
      if (cursor !== null) qs.set('cursor', cursor);
      if (limit !== undefined) qs.set('limit', String(limit));
      const res = await fetch(`${url}/sync/pull?${qs.toString()}`, { headers });
      return { status: res.status, body: (await res.json()) as any };
    },
    /** The changes after `cursor`, following cursors until a page says there are no more, and the last cursor. */
    async pullFrom(cursor: string | null, limit: number): Promise<{ changes: any[]; cursor: string | null }> {
      const changes: any[] = [];
      for (;;) {
        const { status, body } = await this.pull(cursor, limit);
        if (status !== 200) throw new Error(`pull answered ${status}: ${JSON.stringify(body)}`);
        changes.push(...body.changes);
        cursor = body.cursor;
        if (!body.hasMore) return { changes, cursor };
      }
    },
    /** Every record of the tenant, following cursors. */
    async pullAll() {
      return (await this.pullFrom(null, 1000)).changes;
    },
    /**
     * Pulls from the start while pushes are running, until a page asked for after `done()` turned
     * true says there are no more; returns the keys seen.
     */
    async keysSeenUntil(done: () => boolean, limit: number): Promise<Set<string>> {
      const seen = new Set<string>();
      let cursor: string | null = null;
      for (;;) {
        const finished = done();
        const { body } = await this.pull(cursor, limit);
        for (const ch of body.changes) seen.add(ch.key);
        cursor = body.cursor;
        if (finished && !body.hasMore) return seen;
      }
    },
  };
}

/** Reads server-sent events from a fetch stream; resolves the first data event matching `accept`. */
export async function waitForPoke(url: string, token: string, accept: (data: any) => boolean, onOpen?: () => Promise<void> | void, timeoutMs = 5000): Promise<any> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(`${url}/sync/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (res.status !== 200 || !res.body) throw new Error(`events answered ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let opened = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buffer += value;
      let index: number;
      while ((index = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (!data) continue;
        const parsed = JSON.parse(data);
        if (!opened) {
          opened = true;
          await onOpen?.();
        }
        if (accept(parsed)) return parsed;
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
