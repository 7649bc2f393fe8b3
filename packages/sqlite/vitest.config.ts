import { defineConfig } from 'vitest/config';
import { vitestConfig } from '../../tooling/vitest.shared.js';
export default defineConfig(vitestConfig());
