// A producer thread for the output-ring test: offers `count` bytes (byte i is i & 0xff) in
// bursts of one to four, and wakes the drainer a moment after each burst, as a UART does once
// it has released its lock: the drainer may have taken the burst meanwhile and be on its way
// to sleep when the wake comes.
import { workerData } from 'node:worker_threads';
import { OutputRing } from '../../dist/devices/output-ring.js';

const { buffer, count } = workerData;
const ring = new OutputRing(buffer);
for (let sent = 0; sent < count; ) {
  const burst = Math.min(1 + Math.floor(Math.random() * 4), count - sent);
  for (let i = 0; i < burst; ) if (ring.offer((sent + i) & 0xff)) i++;
  sent += burst;
  spin(Math.random() * 0.01);
  ring.wakeDrainer();
  spin(Math.random() * 0.02);
}

function spin(milliseconds) {
  const until = performance.now() + milliseconds;
  while (performance.now() < until);
}
