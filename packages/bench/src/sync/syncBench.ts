import type { SyncServerLimits } from '@nexus-store/server';
import { tempDir } from '../fixtures.js';
import { machineInfo, versionOf } from '../runBench.js';
import type { ClientConfig, ServerInfo, SyncRun } from './syncProtocol.js';
import { startWorker } from './worker.js';
import type { Worker } from './worker.js';

/** How much the sync benchmark moves. */
export interface SyncBenchSizes {
  /** Records of the initial pull and of the push. */
  records: number;
  /** Records of each incremental sync. */
  incremental: number;
  /** Incremental syncs timed (the median is printed). */
  incrementalRepeats: number;
  /** Records per push request (nexus-store `batchSize`, PouchDB `batch_size`, the hand-written pair's batch). */
  batchSize: number;
  /** Records per pull request (nexus-store `pullLimit`, PouchDB `batch_size`, the hand-written pair's page). */
  pullLimit: number;
  /**
   * Times every implementation runs, in turns whose order alternates (A B C, C B A, A B C …): each
   * phase prints its median run, so that a change of the machine's speed during the run (this VM's
   * varies by up to 2x within a minute) weighs on every implementation alike. Peak RSS: the highest.
   */
  rounds: number;
}

export const SYNC_FULL: SyncBenchSizes = { records: 100_000, incremental: 1000, incrementalRepeats: 3, batchSize: 1000, pullLimit: 1000, rounds: 3 };
export const SYNC_QUICK: SyncBenchSizes = { records: 300, incremental: 20, incrementalRepeats: 1, batchSize: 100, pullLimit: 100, rounds: 1 };

export type SyncSubjectName = 'nexus' | 'raw' | 'pouch';

export interface SyncBenchOptions {
  sizes?: SyncBenchSizes;
  /** Which implementations to run. @default ['nexus', 'raw', 'pouch'] */
  subjects?: readonly SyncSubjectName[];
  /** Records of the extra nexus-store initial pull (`--million`); 0 skips it. @default 0 */
  bigPull?: number;
  /** Progress lines. @default no output */
  log?: (line: string) => void;
}

/** One measured phase of one implementation. */
export interface SyncPhase {
  records: number;
  seconds: number;
  /** Peak RSS of the client process that ran the phase, in MiB. */
  clientRssMiB: number;
  /** Peak RSS of the server process at the end of the phase (it has served every earlier phase too), in MiB. */
  serverRssMiB: number;
  /** What the timed run moved, as the implementation reported it. */
  run: SyncRun;
}

export interface SyncSubjectResult {
  subject: SyncSubjectName;
  label: string;
  push?: SyncPhase;
  pull?: SyncPhase;
  incremental?: SyncPhase;
  /** Peak RSS of the pulling client process once its modules are loaded and its store is open, before any sync, in MiB. */
  idleClientRssMiB?: number;
  /** Why this implementation did not run, if it did not. */
  skipped?: string;
}

export interface SyncBenchResult {
  sizes: SyncBenchSizes;
  subjects: SyncSubjectResult[];
  bigPull?: SyncPhase;
  machine: string;
  table: string;
  /** The idle client RSS of each implementation, to read the peak RSS columns against. */
  notes: string;
}

const LABELS: Record<SyncSubjectName, string> = {
  nexus: 'nexus-store (createSyncServer + sqliteServerStore, createNexus + sqliteStorage + httpRemote)',
  raw: 'hand-written node:http + better-sqlite3 pair (1 transaction per batch)',
  pouch: 'PouchDB (leveldb) replicating with express-pouchdb (leveldb)',
};

function worker(name: string): Worker {
  return startWorker(new URL(`./${name}.ts`, import.meta.url));
}

async function startServer(subject: SyncSubjectName, folder: ReturnType<typeof tempDir>, sizes: SyncBenchSizes): Promise<{ server: Worker; info: ServerInfo }> {
  const server = worker(`${subject}ServerProcess`);
  // The nexus server refuses pushes of more than 500 mutations by default; the bench raises that to its batch size.
  const limits: SyncServerLimits = { maxMutations: Math.max(500, sizes.batchSize), maxPullLimit: Math.max(1000, sizes.pullLimit) };
  const info = await server.call<ServerInfo>('start', subject === 'pouch' ? folder.dir : folder.file('server.db'), limits);
  return { server, info };
}

async function phase(client: Worker, server: Worker, command: 'push' | 'pull', records: number): Promise<SyncPhase> {
  const run = await client.call<SyncRun>(command);
  return { records, seconds: run.ms / 1000, clientRssMiB: await client.peakRssMiB(), serverRssMiB: await server.peakRssMiB(), run };
}

function expectCount(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: expected ${expected} records, got ${actual}`);
}

/** Push, initial pull and incremental pulls of one implementation, each side in its own process. */
async function runSubject(subject: SyncSubjectName, sizes: SyncBenchSizes, log: (line: string) => void): Promise<SyncSubjectResult> {
  const folder = tempDir();
  const workers: Worker[] = [];
  const client = (): Worker => {
    const w = worker(`${subject}ClientProcess`);
    workers.push(w);
    return w;
  };
  try {
    const { server, info } = await startServer(subject, folder, sizes);
    workers.push(server);
    const config = (name: string): ClientConfig => ({ ...info, filename: folder.file(name), batchSize: sizes.batchSize, pullLimit: sizes.pullLimit });

    // Queue in one process (untimed), push from a fresh one, so the push client's peak RSS is the push's own.
    const queuer = client();
    await queuer.call('open', config('pusher'));
    await queuer.call('queue', sizes.records, 'item');
    await queuer.call('close');
    await queuer.stop();
    log(`${subject}: ${sizes.records} records queued`);
    const pusher = client();
    await pusher.call('open', config('pusher'));
    const push = await phase(pusher, server, 'push', sizes.records);
    expectCount(`${subject} push`, push.run.pushed, sizes.records);
    log(`${subject}: push ${push.seconds.toFixed(2)} s`);

    const puller = client();
    await puller.call('open', config('puller'));
    const idleClientRssMiB = await puller.peakRssMiB();
    const pull = await phase(puller, server, 'pull', sizes.records);
    expectCount(`${subject} pull`, await puller.call<number>('count'), sizes.records);
    log(`${subject}: initial pull ${pull.seconds.toFixed(2)} s`);

    const incrementals: SyncPhase[] = [];
    for (let repeat = 0; repeat < sizes.incrementalRepeats; repeat++) {
      await pusher.call('queue', sizes.incremental, `inc${repeat}`);
      await pusher.call('push');
      const incremental = await phase(puller, server, 'pull', sizes.incremental);
      expectCount(`${subject} incremental pull`, incremental.run.pulled, sizes.incremental);
      incrementals.push(incremental);
    }
    incrementals.sort((a, b) => a.seconds - b.seconds);
    const incremental = incrementals[Math.floor(incrementals.length / 2)]!;
    expectCount(`${subject} after incremental pulls`, await puller.call<number>('count'), sizes.records + sizes.incremental * sizes.incrementalRepeats);
    log(`${subject}: incremental pull ${(incremental.seconds * 1000).toFixed(0)} ms`);
    await pusher.call('close');
    await puller.call('close');
    await server.call('close');
    return { subject, label: LABELS[subject], push, pull, incremental, idleClientRssMiB };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    folder.remove();
  }
}

/** nexus-store only: seed `records` straight into the server's store (untimed), then time one initial pull. */
async function runBigPull(records: number, sizes: SyncBenchSizes, log: (line: string) => void): Promise<SyncPhase> {
  const folder = tempDir();
  const workers: Worker[] = [];
  try {
    const { server, info } = await startServer('nexus', folder, sizes);
    workers.push(server);
    await server.call('seed', records, 'big');
    log(`nexus: ${records} records seeded on the server`);
    const puller = worker('nexusClientProcess');
    workers.push(puller);
    await puller.call('open', { ...info, filename: folder.file('puller'), batchSize: sizes.batchSize, pullLimit: sizes.pullLimit });
    const pull = await phase(puller, server, 'pull', records);
    expectCount('nexus big pull', await puller.call<number>('count'), records);
    log(`nexus: initial pull of ${records} in ${pull.seconds.toFixed(1)} s`);
    await puller.call('close');
    await server.call('close');
    return pull;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    folder.remove();
  }
}

function rate(p: SyncPhase): number {
  return p.records / p.seconds;
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

function formatSeconds(seconds: number): string {
  return seconds < 1 ? `${(seconds * 1000).toFixed(0)} ms` : `${seconds.toFixed(2)} s`;
}

/** The Markdown table of a sync run: one row per scenario and implementation, ratios and target verdicts on the nexus-store rows. */
export function formatSyncTable(subjects: readonly SyncSubjectResult[], sizes: SyncBenchSizes, bigPull?: SyncPhase): string {
  const lines = [
    '| scenario | implementation | records/s | time | client peak RSS | server peak RSS | vs hand-written | vs PouchDB | targets |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  const n = sizes.records.toLocaleString('en-US');
  const scenarios: { key: 'pull' | 'push' | 'incremental'; title: string }[] = [
    { key: 'pull', title: `initial pull of ${n} records into an empty client` },
    { key: 'push', title: `push of ${n} queued records` },
    { key: 'incremental', title: `incremental pull of ${sizes.incremental.toLocaleString('en-US')} new records` },
  ];
  const by = (name: SyncSubjectName) => subjects.find((s) => s.subject === name);
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  for (const { key, title } of scenarios) {
    for (const subject of subjects) {
      if (subject.skipped) {
        lines.push(`| ${title} | ${subject.label} | skipped |  |  |  |  |  | ${subject.skipped} |`);
        continue;
      }
      const p = subject[key]!;
      const cells = [title, subject.label, formatNumber(rate(p)), formatSeconds(p.seconds), `${p.clientRssMiB.toFixed(0)} MiB`, `${p.serverRssMiB.toFixed(0)} MiB`];
      const ratioTo = (other: SyncSubjectResult | undefined) => (other && !other.skipped && other !== subject ? rate(p) / rate(other[key]!) : undefined);
      const vsRaw = ratioTo(by('raw'));
      const vsPouch = ratioTo(by('pouch'));
      cells.push(vsRaw === undefined ? '' : `${vsRaw.toFixed(2)}x`, vsPouch === undefined ? '' : `${vsPouch.toFixed(1)}x`);
      const targets: string[] = [];
      if (subject.subject === 'nexus') {
        if (key === 'incremental') targets.push(`<= 60 ms ${verdict(p.seconds * 1000 <= 60)}`);
        else {
          if (vsRaw !== undefined) targets.push(`>= 0.5x hand-written ${verdict(vsRaw >= 0.5)}`);
          if (vsPouch !== undefined) targets.push(`>= 10x PouchDB ${verdict(vsPouch >= 10)}`);
          if (sizes.records >= 100_000) targets.push(`client RSS <= 150 MB ${verdict(p.clientRssMiB * 2 ** 20 <= 150e6)}`);
        }
        if (key === 'push') targets.push(`(sync() also pulled back ${p.run.pulled.toLocaleString('en-US')} own records)`);
      }
      cells.push(targets.join('; '));
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  if (bigPull) {
    lines.push(
      `| initial pull of ${bigPull.records.toLocaleString('en-US')} records (--million, seeded through the server store) | ${LABELS.nexus} | ${formatNumber(rate(bigPull))} | ${formatSeconds(bigPull.seconds)} | ${bigPull.clientRssMiB.toFixed(0)} MiB | ${bigPull.serverRssMiB.toFixed(0)} MiB |  |  | client RSS <= 250 MB ${verdict(bigPull.clientRssMiB * 2 ** 20 <= 250e6)} |`,
    );
  }
  return lines.join('\n');
}

/** The run of median time among `phases`, with the highest peak RSS of them all. */
function medianPhase(phases: readonly SyncPhase[]): SyncPhase {
  const sorted = [...phases].sort((a, b) => a.seconds - b.seconds);
  return {
    ...sorted[Math.floor(sorted.length / 2)]!,
    clientRssMiB: Math.max(...phases.map((p) => p.clientRssMiB)),
    serverRssMiB: Math.max(...phases.map((p) => p.serverRssMiB)),
  };
}

/** One implementation's rounds as one result: each phase's median run (see SyncBenchSizes.rounds). */
export function combineRounds(runs: readonly SyncSubjectResult[]): SyncSubjectResult {
  const skipped = runs.find((r) => r.skipped);
  if (skipped) return skipped;
  return {
    subject: runs[0]!.subject,
    label: runs[0]!.label,
    push: medianPhase(runs.map((r) => r.push!)),
    pull: medianPhase(runs.map((r) => r.pull!)),
    incremental: medianPhase(runs.map((r) => r.incremental!)),
    idleClientRssMiB: Math.max(...runs.map((r) => r.idleClientRssMiB!)),
  };
}

/** Every implementation in turn, `sizes.rounds` times, on loopback, in one run; returns the measurements and the table. */
export async function runSyncBench(options: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const sizes = options.sizes ?? SYNC_FULL;
  const log = options.log ?? (() => undefined);
  const names = options.subjects ?? (['nexus', 'raw', 'pouch'] as const);
  const runs = new Map<SyncSubjectName, SyncSubjectResult[]>(names.map((name) => [name, []]));
  for (let round = 0; round < Math.max(1, sizes.rounds); round++) {
    if (sizes.rounds > 1) log(`round ${round + 1} of ${sizes.rounds}`);
    for (const subject of round % 2 === 0 ? names : [...names].reverse()) {
      const done = runs.get(subject)!;
      if (done.some((r) => r.skipped)) continue;
      try {
        done.push(await runSubject(subject, sizes, log));
      } catch (error) {
        // Only a peer may be skipped; a failing nexus-store or baseline run is a bug.
        if (subject !== 'pouch') throw error;
        const reason = (error as Error).message.split('\n')[0]!;
        log(`pouch skipped: ${reason}`);
        done.push({ subject, label: LABELS[subject], skipped: `skipped: ${reason}` });
      }
    }
  }
  const subjects = names.map((name) => combineRounds(runs.get(name)!));
  const bigPull = options.bigPull ? await runBigPull(options.bigPull, sizes, log) : undefined;
  const rounds = sizes.rounds > 1 ? `, ${sizes.rounds} rounds in alternating order (median time of each phase, highest peak RSS)` : '';
  const machine = `${machineInfo()}\nexpress-pouchdb ${versionOf('express-pouchdb')}, batchSize ${sizes.batchSize}, pullLimit ${sizes.pullLimit}${rounds}`;
  const idle = subjects.filter((s) => s.idleClientRssMiB !== undefined).map((s) => `${s.subject === 'raw' ? 'hand-written' : s.subject === 'pouch' ? 'PouchDB' : 'nexus-store'} ${s.idleClientRssMiB!.toFixed(0)} MiB`);
  const notes = `Idle client process (plain node running the bundled worker, store open, nothing synced yet): ${idle.join(', ')}.`;
  return { sizes, subjects, bigPull, machine, table: formatSyncTable(subjects, sizes, bigPull), notes };
}
