import { defineConfig } from 'vitest/config';

// One run over every workspace package: one JSON report that .ci/run counts from.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests/*'],
  },
});
