/** The injection policy, without KVM: what a vCPU acts on before it next enters the guest (SDM vol. 3A, 8.4, 9.1, 10.6, 10.8). */
import { describe, expect, it } from 'vitest';
import { ATTENTION_INIT, ATTENTION_NMI, ATTENTION_STARTUP } from '../../../src/devices/local-apic-state.js';
import { decidePending, type ApicSnapshot, type VcpuReadiness } from '../../../src/vmm/vcpu/injection.js';

const quiet: ApicSnapshot = { events: 0, startupVector: -1, deliverableVector: -1, heldByTaskPriority: false };
const running: VcpuReadiness = { waitingForStartup: false, bootstrapProcessor: false, readyForInjection: true, interruptFlag: true };
const nothing = { init: false, waitForStartup: false, startupVector: -1, nmi: false, vector: -1, requestWindow: false, pollTaskPriority: false };

describe('vectors in IRR (SDM 10.8)', () => {
  it('injects the deliverable vector when KVM is ready and IF is set', () => {
    expect(decidePending({ ...quiet, deliverableVector: 0x40 }, running)).toEqual({ ...nothing, vector: 0x40 });
  });

  it('asks for an interrupt window instead when IF is clear, or KVM still holds a vector', () => {
    expect(decidePending({ ...quiet, deliverableVector: 0x40 }, { ...running, interruptFlag: false })).toEqual({ ...nothing, requestWindow: true });
    expect(decidePending({ ...quiet, deliverableVector: 0x40 }, { ...running, readyForInjection: false })).toEqual({ ...nothing, requestWindow: true });
  });

  it('polls CR8 when only the task priority holds a vector back, and asks for no window', () => {
    expect(decidePending({ ...quiet, heldByTaskPriority: true }, running)).toEqual({ ...nothing, pollTaskPriority: true });
  });

  it('does nothing with nothing pending', () => {
    expect(decidePending(quiet, running)).toEqual(nothing);
  });
});

describe('NMI (SDM 10.6.1)', () => {
  it('injects an NMI whatever IF says, beside a vector', () => {
    expect(decidePending({ ...quiet, events: ATTENTION_NMI }, { ...running, interruptFlag: false })).toEqual({ ...nothing, nmi: true });
    expect(decidePending({ ...quiet, events: ATTENTION_NMI, deliverableVector: 0x40 }, running)).toEqual({ ...nothing, nmi: true, vector: 0x40 });
  });

  it('drops an NMI for a processor waiting for a SIPI', () => {
    expect(decidePending({ ...quiet, events: ATTENTION_NMI }, { ...running, waitingForStartup: true })).toEqual({ ...nothing, waitForStartup: true });
  });
});

describe('INIT and SIPI, latched (SDM 8.4.4.1, 9.1)', () => {
  it('INIT makes an application processor wait for a SIPI, discarding what was pending with it', () => {
    const events = ATTENTION_INIT | ATTENTION_NMI;
    expect(decidePending({ ...quiet, events, deliverableVector: 0x40, heldByTaskPriority: true }, running)).toEqual({ ...nothing, init: true, waitForStartup: true });
  });

  it('INIT sends the bootstrap processor to its reset vector: it keeps running', () => {
    expect(decidePending({ ...quiet, events: ATTENTION_INIT }, { ...running, bootstrapProcessor: true })).toEqual({ ...nothing, init: true });
  });

  it('INIT followed at once by SIPI, both taken in one step, starts the processor', () => {
    const snapshot = { ...quiet, events: ATTENTION_INIT | ATTENTION_STARTUP, startupVector: 0x08 };
    expect(decidePending(snapshot, running)).toEqual({ ...nothing, init: true, startupVector: 0x08 });
  });

  it('a SIPI starts a processor that waits for one (an AP from power-on, or after INIT)', () => {
    expect(decidePending({ ...quiet, events: ATTENTION_STARTUP, startupVector: 0x9a }, { ...running, waitingForStartup: true })).toEqual({ ...nothing, startupVector: 0x9a });
  });

  it('a SIPI to a running processor is ignored', () => {
    expect(decidePending({ ...quiet, events: ATTENTION_STARTUP, startupVector: 0x9a }, running)).toEqual(nothing);
    expect(decidePending({ ...quiet, events: ATTENTION_INIT | ATTENTION_STARTUP, startupVector: 0x9a }, { ...running, bootstrapProcessor: true })).toEqual({ ...nothing, init: true });
  });

  it('a processor waiting for a SIPI, with none, keeps waiting and takes no vector', () => {
    expect(decidePending({ ...quiet, deliverableVector: 0x40 }, { ...running, waitingForStartup: true })).toEqual({ ...nothing, waitForStartup: true });
  });
});
