import { defineConfig } from 'vitest/config';
import { vitestConfig } from '../../tooling/vitest.shared.js';
export default defineConfig(vitestConfig({ typecheck: { enabled: true, include: ['tests/**/*.test-d.ts'] } }));
