import { parseArgs } from 'node:util';
import { createSyncServer, type SyncServer } from './createSyncServer.js';
import { jsonLogger } from './jsonLogger.js';
import { postgresServerStore } from './postgresServerStore.js';
import type { ServerStore } from './serverStore.js';
import { sqliteServerStore } from './sqliteServerStore.js';

const USAGE = `Usage: nexus-store-server <command> [options]

Commands:
  serve --db <file | postgres://...> [--port 8787] [--host 0.0.0.0] [--jwt-secret <s>] [--admin-token <s>]
        The secret and admin token may come from NEXUS_JWT_SECRET and NEXUS_ADMIN_TOKEN instead.
  Every command takes --schema <name> (or NEXUS_PG_SCHEMA) to keep PostgreSQL tables in a schema of their own,
  and --durability full|normal for SQLite (default full: fsync before acknowledging a push).
  user add <username> --password <p> [--tenant default] --db <file | postgres://...>
  compact --older-than <30d | 12h | 15m | ms> --db <file | postgres://...>
`;

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

export interface CliResult {
  code: number;
  /** The running server, for `serve`. */
  server?: SyncServer;
  url?: string;
}

/** Opens the store `--db` names: a postgres:// URL (tables in `schema`, default public) or a SQLite file. */
export function storeFor(db: string, schema?: string, durability?: 'full' | 'normal'): ServerStore {
  return /^postgres(ql)?:\/\//.test(db) ? postgresServerStore({ connectionString: db, schema }) : sqliteServerStore({ filename: db, durability });
}

/** `30d`, `12h`, `15m`, `10s` or a number of milliseconds. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms') as 'ms'];
  return Number(match[1]) * unit;
}

/** The `nexus-store-server` command line. Returns the exit code (and the server, for `serve`). */
export async function runCli(argv: readonly string[], io: CliIo = { env: process.env, stdout: (l) => process.stdout.write(`${l}\n`), stderr: (l) => process.stderr.write(`${l}\n`) }): Promise<CliResult> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'jwt-secret': { type: 'string' },
        'admin-token': { type: 'string' },
        password: { type: 'string' },
        tenant: { type: 'string' },
        'older-than': { type: 'string' },
        schema: { type: 'string' },
        durability: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.stderr(`${(error as Error).message}\n\n${USAGE}`);
    return { code: 2 };
  }
  const { values, positionals } = parsed;
  const [command, sub, name] = positionals;
  if (values.help || !command) {
    io.stdout(USAGE);
    return { code: command ? 0 : 2 };
  }
  const db = values.db ?? io.env.NEXUS_DB ?? (command === 'serve' ? './nexus-store.db' : undefined);
  if (values.durability !== undefined && values.durability !== 'full' && values.durability !== 'normal') {
    io.stderr(`--durability must be full or normal.\n\n${USAGE}`);
    return { code: 2 };
  }
  if (!db) {
    io.stderr(`--db is required (a SQLite file or a postgres:// URL).\n\n${USAGE}`);
    return { code: 2 };
  }

  if (command === 'serve') {
    const jwtSecret = values['jwt-secret'] ?? io.env.NEXUS_JWT_SECRET;
    if (!jwtSecret || jwtSecret.length < 32) {
      io.stderr('serve needs a JWT secret of at least 32 characters: --jwt-secret or NEXUS_JWT_SECRET (e.g. `openssl rand -hex 32`).');
      return { code: 2 };
    }
    const port = Number(values.port ?? io.env.PORT ?? 8787);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      io.stderr(`--port must be a port number, not ${values.port}.`);
      return { code: 2 };
    }
    const server = createSyncServer({
      database: storeFor(db, values.schema ?? io.env.NEXUS_PG_SCHEMA, values.durability as 'full' | 'normal' | undefined),
      auth: { jwtSecret, adminToken: values['admin-token'] ?? io.env.NEXUS_ADMIN_TOKEN },
      logger: jsonLogger({ write: io.stdout }),
    });
    const { url } = await server.listen(port, values.host);
    return { code: 0, server, url };
  }

  if (command === 'user' && sub === 'add') {
    if (!name || !values.password) {
      io.stderr(`user add needs a username and --password.\n\n${USAGE}`);
      return { code: 2 };
    }
    const server = createSyncServer({ database: storeFor(db, values.schema ?? io.env.NEXUS_PG_SCHEMA, values.durability as 'full' | 'normal' | undefined), auth: { jwtSecret: 'x'.repeat(32) }, logger: jsonLogger({ write: io.stderr, level: 'warn' }) });
    try {
      await server.addUser(name, values.password, { tenant: values.tenant });
      io.stdout(JSON.stringify({ event: 'user_added', username: name, tenant: values.tenant ?? 'default' }));
      return { code: 0 };
    } finally {
      await server.close();
    }
  }

  if (command === 'compact') {
    const olderThanMs = values['older-than'] === undefined ? null : parseDuration(values['older-than']);
    if (olderThanMs === null) {
      io.stderr(`compact needs --older-than like 30d, 12h, 15m or a number of ms.\n\n${USAGE}`);
      return { code: 2 };
    }
    const server = createSyncServer({ database: storeFor(db, values.schema ?? io.env.NEXUS_PG_SCHEMA, values.durability as 'full' | 'normal' | undefined), auth: { jwtSecret: 'x'.repeat(32) }, logger: jsonLogger({ write: io.stderr, level: 'warn' }) });
    try {
      const result = await server.compact({ olderThanMs });
      io.stdout(JSON.stringify({ event: 'compacted', olderThanMs, ...result }));
      return { code: 0 };
    } finally {
      await server.close();
    }
  }

  io.stderr(`Unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  return { code: 2 };
}
