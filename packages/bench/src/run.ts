import { runBench } from './runBench.js';
import { FULL, QUICK } from './sizes.js';

/** `npm run bench -w @nexus-store/bench` (add `-- --quick` for a fast check of the harness). */
const quick = process.argv.includes('--quick');
const started = performance.now();
const result = await runBench({ sizes: quick ? QUICK : FULL, log: (line) => process.stderr.write(`… ${line}\n`) });
process.stdout.write(`\n${result.machine}\n\n${result.table}\n\n`);
process.stdout.write(`Measured through the public API (createNexus + store) in ${((performance.now() - started) / 1000).toFixed(0)} s${quick ? ' (quick sizes: not representative)' : ''}.\n`);
