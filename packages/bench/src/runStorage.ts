import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundle } from './sync/worker.js';

/**
 * `npm run bench -w @nexus-store/bench`: runs `run.ts` bundled (see `bundle`), so that nexus-store
 * is measured as the published packages run, not as TypeScript under a loader. NEXUS_BENCH_TSX=1
 * runs it under tsx instead.
 */
const script = fileURLToPath(new URL('./run.ts', import.meta.url));
const tsx = process.env.NEXUS_BENCH_TSX === '1';
const child = spawn(process.execPath, tsx ? ['--conditions=source', '--import', 'tsx', script, ...process.argv.slice(2)] : [bundle(script), ...process.argv.slice(2)], { stdio: 'inherit' });
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
