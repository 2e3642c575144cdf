/** A QmpMachine without KVM, for the server's policy: it records what was asked of it. */
import type { CpuDumpState } from '../../src/monitor/cpu-dump.js';
import type { Chardev, DomainView, QmpMachine, RunState } from '../../src/qmp/machine.js';

export class FakeMachine implements QmpMachine {
  state: RunState = 'running';
  readonly calls: string[] = [];
  onQuit: () => void = () => {};
  domain: DomainView | undefined = undefined;

  constructor(
    readonly name: string | undefined,
    readonly uuid: string,
    private readonly threadIds: readonly number[],
    private readonly chardevList: readonly Chardev[],
  ) {}

  runState(): RunState {
    return this.state;
  }
  async pause(): Promise<void> {
    this.calls.push('pause');
    this.state = 'paused';
  }
  resume(): void {
    this.calls.push('resume');
    this.state = 'running';
  }
  quit(): void {
    this.calls.push('quit');
    this.onQuit();
  }
  async reset(): Promise<void> {
    this.calls.push('reset');
  }
  pressPowerButton(): void {
    this.calls.push('power button');
  }
  async cpuDump(index: number): Promise<CpuDumpState> {
    this.calls.push(`cpu dump ${index}`);
    return this.dumpState(index);
  }
  /** What cpuDump answers: tests that print registers set it. */
  dumpState: (index: number) => CpuDumpState = () => {
    throw new Error('FakeMachine: no CPU state to dump');
  };
  vcpuThreadIds(): readonly number[] {
    return this.threadIds;
  }
  chardevs(): readonly Chardev[] {
    return this.chardevList;
  }
}
