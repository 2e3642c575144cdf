// A vCPU thread for the serial-output test: a polled 16550 driver that writes `count` bytes of
// its own numbered stream (`tag` in bit 7) through COM1's shared state and output ring, taking
// a guest-side lock around each THRE check and THR write, as a guest's console lock would.
import { workerData } from 'node:worker_threads';
import { OutputRing } from '../../dist/devices/output-ring.js';
import { SharedState } from '../../dist/devices/shared-state.js';
import { LSR_THR_EMPTY, UART_LSR, UART_STATE_WORDS, UART_THR, Uart16550 } from '../../dist/devices/uart16550.js';

const { uartState, ring, guestLock, tag, count } = workerData;
const uart = new Uart16550({ irq: { setLevel() {} }, output: new OutputRing(ring), state: new SharedState(UART_STATE_WORDS, uartState) });
const lock = new Int32Array(guestLock);
const lsr = new Uint8Array(1);
const thr = new Uint8Array(1);
for (let sent = 0; sent < count; ) {
  while (Atomics.compareExchange(lock, 0, 0, 1) !== 0);
  uart.read(UART_LSR, lsr);
  if (lsr[0] & LSR_THR_EMPTY) {
    thr[0] = tag | (sent & 0x7f);
    uart.write(UART_THR, thr);
    sent++;
  }
  Atomics.store(lock, 0, 0);
}
