import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runnable } from './sync/worker.js';

/**
 * `npm run bench -w @nexus-store/bench`: runs `run.ts` as `runnable` says (bundled on plain node,
 * so that nexus-store is measured as the published packages run, not as TypeScript under a loader).
 */
const { entry, execArgv } = runnable(fileURLToPath(new URL('./run.ts', import.meta.url)));
const child = spawn(process.execPath, [...execArgv, entry, ...process.argv.slice(2)], { stdio: 'inherit' });
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
