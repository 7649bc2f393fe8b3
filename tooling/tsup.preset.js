// One tsup preset for every package: ESM + CJS + .d.ts from src/index.ts.
/** @param {import('tsup').Options} [overrides] */
export function preset(overrides = {}) {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    treeshake: true,
    ...overrides,
  };
}
