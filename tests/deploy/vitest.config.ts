import { defineProject } from 'vitest/config';

// The files under deploy/ (Prometheus rules and config, the Grafana dashboard, the compose
// profile): promtool where it is installed, and the metric names against what the apps export.
export default defineProject({
  test: {
    name: 'deploy',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
