import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running; `integration` runs against the real local
// control plane and data plane, which test/setup/global.ts starts when they are not up.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Files share one API server and one PostgreSQL; each works in its own namespace or
          // database, but two cores run them best one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
