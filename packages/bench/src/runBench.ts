import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cpus, totalmem, platform, release, arch } from 'node:os';
import { formatTable } from './measure.js';
import type { Row } from './measure.js';
import { memoryRows } from './memoryScenarios.js';
import { PEERS, peerRows } from './peerScenarios.js';
import { sqliteVersion } from './rawSqlite.js';
import { FULL } from './sizes.js';
import type { BenchSizes } from './sizes.js';
import { sqliteRows } from './sqliteScenarios.js';

export interface BenchOptions {
  sizes?: BenchSizes;
  /** Progress lines. @default no output */
  log?: (line: string) => void;
  /** Measure the peers (PouchDB, RxDB, Dexie, idb). @default true */
  peers?: boolean;
}

export interface BenchResult {
  rows: Row[];
  machine: string;
  table: string;
}

export function versionOf(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    // Packages whose exports map hides package.json: walk up from the resolved entry.
    try {
      let dir = dirname(require.resolve(name));
      while (dir !== dirname(dir)) {
        const file = join(dir, 'package.json');
        if (existsSync(file)) {
          const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
          if (pkg.name === name) return pkg.version;
        }
        dir = dirname(dir);
      }
    } catch {
      // not installed
    }
    return 'not installed';
  }
}

export function machineInfo(): string {
  const cpu = cpus();
  const versions = ['better-sqlite3', 'pouchdb', 'rxdb', 'dexie', 'idb', 'fake-indexeddb', 'zod'].map((n) => `${n} ${versionOf(n)}`).join(', ');
  return [
    `${cpu[0]?.model ?? 'unknown CPU'} x ${cpu.length}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${platform()} ${release()} ${arch()}`,
    `Node ${process.version}, SQLite ${sqliteVersion()}, ${versions}`,
  ].join('\n');
}

/** Runs every scenario and returns the rows, the machine description and the Markdown table. */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const sizes = options.sizes ?? FULL;
  const log = options.log ?? (() => undefined);
  const own = await sqliteRows(sizes, log);
  const bulkScenario = own.find((row) => row.scenario.startsWith('saveAll'))!.scenario;
  const peers = options.peers === false ? [] : await peerRows(sizes, log, bulkScenario, PEERS);
  const memory = await memoryRows(sizes, log);
  // Put each peer row under the scenario it belongs to, with that scenario's raw baseline.
  const rows: Row[] = [];
  const scenarios = [...new Set(own.map((row) => row.scenario))];
  for (const scenario of scenarios) {
    const baseline = own.find((row) => row.scenario === scenario)!.baseline;
    rows.push(...own.filter((row) => row.scenario === scenario));
    rows.push(...peers.filter((row) => row.scenario === scenario).map((row) => ({ ...row, baseline })));
  }
  rows.push(...memory);
  const machine = machineInfo();
  return { rows, machine, table: formatTable(rows) };
}
