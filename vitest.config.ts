import { defineConfig } from 'vitest/config';

// Four projects, run in this order: `unit` needs nothing running; `integration` runs against
// the real local control plane and the host-run data plane (pods simulated by kwok); `e2e` runs
// the operator's pods for real on the local cluster's real node; `rbac` then checks that the
// chart's role refused none of the operators' requests. test/setup/global.ts starts the
// stack when it is not up.
const live = {
  environment: 'node' as const,
  globalSetup: ['test/setup/global.ts'],
  hookTimeout: 300_000,
  // Files share one API server, one node and one PostgreSQL; each works in its own namespace or
  // database, but two cores run them best one file at a time.
  fileParallelism: false,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          environment: 'node',
          // Some unit tests run a Go-built tool (promtool, helm, the health checks) or a child
          // Node process: seconds each on a busy 2-core machine, not the default 5 s budget.
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...live,
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          ...live,
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // A real initdb, real image starts and pod restarts take longer than kwok's.
          testTimeout: 400_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          ...live,
          // Last: reads the audit log of the projects before it (the operator's refused requests).
          name: 'rbac',
          include: ['test/rbac/**/*.test.ts'],
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
