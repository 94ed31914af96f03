import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'example-notification-consumer',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
