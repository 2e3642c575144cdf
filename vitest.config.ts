import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: KVM file descriptors, signal handlers and
    // native addons stay out of each other's way.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
