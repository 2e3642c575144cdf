/** VMs made in the test's process, their serial output going to a file the test reads back, and the configs of the real-mode test guests. */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { VmSpec } from '../../src/config/vm-spec.js';
import { openOutputWriter } from '../../src/host/output-writer.js';
import { Vm, type VmOptions } from '../../src/vmm/vm.js';
import { REPO } from './tsvisor.js';

export async function createVmWithOutput(folder: string, spec: VmSpec, options: Partial<VmOptions> = {}) {
  const file = join(folder, `serial-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(file, 'w');
  const vm = await Vm.create(spec, { serialOutput: openOutputWriter(fd), report: () => {}, ...options });
  return {
    vm,
    output: () => readFileSync(file, 'utf8'),
    destroy: async () => {
      await vm.destroy();
      closeSync(fd);
    },
  };
}

/** A config for one of the real-mode guests in guests/build (or the image at `kernel`), with `base` as its [base] lines' last. */
export function realModeGuestSpec(folder: string, guest: string, base = 'cpu_num = 1', kernel = `${REPO}/guests/build/${guest}.bin`): VmSpec {
  const path = join(folder, `${guest}-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(
    path,
    `[base]\nid = 1\nname = "${guest}"\nvm_type = 1\n${base}\n[kernel]\nentry_point = 0x8000\nkernel_path = "${kernel}"\nkernel_load_addr = 0x8000\nmemory_regions = [[0, 0x100_0000, 7, 0]]\n[devices]\nemu_devices = []\npassthrough_devices = []\n`,
  );
  return loadVmConfig(path);
}
