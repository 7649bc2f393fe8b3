import { defineConfig } from 'tsup';
import { preset } from '../../tooling/tsup.preset.js';
export default defineConfig(preset({ entry: ['src/index.ts', 'src/cli.ts', 'src/bin.ts', 'src/testing.ts'] }));
