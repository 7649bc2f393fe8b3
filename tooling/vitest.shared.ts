import type { ViteUserConfig } from 'vitest/config';

type TestOptions = NonNullable<ViteUserConfig['test']>;

/** Shared vitest settings: tests read each package's src/ through the "source" export condition. */
export function vitestConfig(test: TestOptions = {}): ViteUserConfig {
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
