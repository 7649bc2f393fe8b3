// Shared vitest settings: tests read each package's src/ through the "source" export condition.
/** @param {import('vitest/config').UserConfig['test']} [test] */
export function vitestConfig(test = {}) {
  return {
    resolve: { conditions: ['source'] },
    ssr: { resolve: { conditions: ['source'] } },
    test: {
      include: ['tests/**/*.test.ts'],
      testTimeout: 30_000,
      ...test,
    },
  };
}
