import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Only tests declared with describeKvm may reach KVM (test/helpers/kvm.ts).
    setupFiles: ['test/helpers/kvm-fence.ts'],
    // Each test file in its own process: KVM file descriptors, signal handlers and
    // native addons stay out of each other's way.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
