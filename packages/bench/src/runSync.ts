import { SYNC_FULL, SYNC_QUICK, runSyncBench } from './sync/syncBench.js';
import type { SyncSubjectName } from './sync/syncBench.js';

/** `npm run bench:sync -w @nexus-store/bench` (`-- --quick` for a fast check of the harness, `-- --million` adds a 1,000,000-record pull). */
const quick = process.argv.includes('--quick');
const million = process.argv.includes('--million');
// --only=nexus,raw runs a subset (for profiling one implementation).
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',') as SyncSubjectName[] | undefined;
const started = performance.now();
const result = await runSyncBench({ sizes: quick ? SYNC_QUICK : SYNC_FULL, subjects: only, bigPull: million ? (quick ? 2000 : 1_000_000) : 0, log: (line) => process.stderr.write(`… ${line}\n`) });
process.stdout.write(`\n${result.machine}\n\n${result.table}\n\n${result.notes}\n`);
process.stdout.write(`Sync benchmark on loopback, every client and server in its own process, in ${((performance.now() - started) / 1000).toFixed(0)} s${quick ? ' (quick sizes: not representative)' : ''}.\n`);
