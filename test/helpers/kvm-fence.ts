/**
 * A vitest setup file (vitest.config.ts): before each test file, KVM is fenced off. tsvisor and
 * the bench's C floor open TSVISOR_KVM_DEVICE when it is set; here it names a path that does
 * not exist, and says what to do, so that only tests declared with describeKvm (helpers/kvm.ts),
 * which lift the fence while they run, can reach KVM.
 */
export const KVM_FENCE = '/nonexistent/tsvisor-test-uses-kvm-without-describeKvm';

process.env.TSVISOR_KVM_DEVICE = KVM_FENCE;
