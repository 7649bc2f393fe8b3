export { runBench, machineInfo } from './runBench.js';
export type { BenchOptions, BenchResult } from './runBench.js';
export { formatTable, measure } from './measure.js';
export type { Row, Measured } from './measure.js';
export { FULL, QUICK } from './sizes.js';
export type { BenchSizes } from './sizes.js';
export { runSyncBench, formatSyncTable, combineRounds, SYNC_FULL, SYNC_QUICK } from './sync/syncBench.js';
export type { SyncBenchOptions, SyncBenchResult, SyncBenchSizes, SyncPhase, SyncSubjectName, SyncSubjectResult } from './sync/syncBench.js';
export type { SyncRun } from './sync/syncProtocol.js';
