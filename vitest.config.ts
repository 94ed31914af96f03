import { defineConfig } from 'vitest/config';

// One run over every workspace package: one JSON report that .ci/run counts from. From
// tests/chaos only the checker's self-test runs here; the suite itself runs the real processes
// for minutes, alone (`pnpm test:chaos`).
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests/e2e', 'tests/chaos', 'tests/deploy'],
  },
});
