import { defineProject } from 'vitest/config';

// Only the checker's self-test; the chaos suite itself is `pnpm test:chaos`.
export default defineProject({
  test: {
    name: 'chaos',
    include: ['test/**/*.test.ts'],
  },
});
