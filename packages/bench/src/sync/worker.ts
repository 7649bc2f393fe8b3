import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/** A benchmark process run by the sync benchmark: commands in, results out, over the IPC channel. */
export interface Worker {
  call<T = unknown>(command: string, ...args: unknown[]): Promise<T>;
  /** Peak resident set size of the process so far, in MiB (`process.resourceUsage().maxRSS`). */
  peakRssMiB(): Promise<number>;
  /** Asks the process to exit and waits for it. */
  stop(): Promise<void>;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE_DIR = join(PACKAGE_DIR, '.workers');
/** Native, server-only and peer packages stay external; node resolves them from node_modules. */
const EXTERNAL = ['better-sqlite3', 'pg', 'pg-native', 'pouchdb', 'pouchdb-*', 'express', 'express-pouchdb', 'leveldown', 'leveldown/*', 'rxdb', 'rxdb/*', 'dexie', 'idb', 'fake-indexeddb', 'fake-indexeddb/*'];

/**
 * Bundles `script` (a .ts file of this package, with the @nexus-store packages from their src/)
 * into one ES module run by plain node, compiled as the published packages are (esbuild, names not
 * kept): time and memory are measured as an app would run, without a TypeScript loader in the
 * process (the tsx loader alone costs ~38 MiB; its kept names cost a save ~10%). NEXUS_BENCH_TSX=1
 * runs the .ts file under tsx instead.
 */
function bundle(script: string): string {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const out = join(BUNDLE_DIR, `${basename(script, '.ts')}.mjs`);
  buildSync({
    entryPoints: [script],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['source'],
    external: EXTERNAL,
    banner: { js: "import { createRequire as __nexusRequire } from 'node:module'; const require = __nexusRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return out;
}

/** How to run `script` (a .ts file of this package) in a process of its own: bundled on plain node, or under tsx with NEXUS_BENCH_TSX=1. */
export function runnable(script: string): { entry: string; execArgv: string[] } {
  return process.env.NEXUS_BENCH_TSX === '1' ? { entry: script, execArgv: ['--conditions=source', '--import', 'tsx'] } : { entry: bundle(script), execArgv: [] };
}

/** Starts `script` as its own process, so each side of a sync benchmark has its own heap and its own peak RSS. */
export function startWorker(script: URL): Worker {
  // NEXUS_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every process into <dir> (see README, "Profiling");
  // NEXUS_BENCH_NODE_FLAGS passes more node flags to every process (e.g. --trace-gc-nvp).
  const profile = process.env.NEXUS_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NEXUS_BENCH_CPU_PROF}`] : [];
  const flags = [...profile, ...(process.env.NEXUS_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const { entry, execArgv } = runnable(fileURLToPath(script));
  const child: ChildProcess = fork(entry, [], {
    cwd: PACKAGE_DIR,
    execArgv: [...execArgv, ...flags],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exited = true;
      for (const { reject } of pending.values()) reject(new Error(`${script.pathname} exited with code ${code} during a command`));
      pending.clear();
      resolve();
    });
  });
  child.on('message', (message: Reply) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(message.error));
  });
  const call = <T>(command: string, ...args: unknown[]): Promise<T> => {
    if (exited) return Promise.reject(new Error(`${script.pathname} has exited`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, command, args });
    });
  };
  return {
    call,
    peakRssMiB: () => call<number>('peakRss'),
    async stop() {
      if (!exited) {
        await call('exit').catch(() => undefined);
        await exit;
      }
    },
  };
}

type Handlers = Record<string, (...args: any[]) => unknown>;

/** The worker side: runs each command received from the parent and sends back its result. */
export function serveCommands(handlers: Handlers): void {
  const all: Handlers = {
    ...handlers,
    peakRss: () => process.resourceUsage().maxRSS / 1024,
    exit: () => setImmediate(() => process.exit(0)),
  };
  // Parent gone (crashed or killed by a test timeout): do not linger as an orphan holding a port.
  process.on('disconnect', () => process.exit(0));
  // NEXUS_BENCH_MEM=1 prints the process's memory at its peak RSS (heap, external) when it exits.
  if (process.env.NEXUS_BENCH_MEM) {
    let peak = process.memoryUsage();
    setInterval(() => {
      const now = process.memoryUsage();
      if (now.rss > peak.rss) peak = now;
    }, 5).unref();
    const mib = (bytes: number) => Math.round(bytes / 1048576);
    process.on('exit', () => process.stderr.write(`memory at peak RSS (pid ${process.pid}, MiB): rss ${mib(peak.rss)}, heap ${mib(peak.heapUsed)}/${mib(peak.heapTotal)}, external ${mib(peak.external)}\n`));
  }
  process.on('message', (message: { id: number; command: string; args: unknown[] }) => {
    void (async () => {
      try {
        const handler = all[message.command];
        if (!handler) throw new Error(`unknown command ${message.command}`);
        const result = await handler(...message.args);
        process.send!({ id: message.id, ok: true, result });
      } catch (error) {
        process.send!({ id: message.id, ok: false, error: (error as Error).stack ?? String(error) });
      }
    })();
  });
}

/** Milliseconds taken by `run`. */
export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await run();
  return { ms: performance.now() - start, result };
}
