/**
 * COM1's output on its way out of the VM, drained by the main thread.
 *
 * Who drains: the main thread, never a vCPU. A vCPU thread's part ends when its UART puts a
 * byte into the shared OutputRing (devices/output-ring.ts) under the UART's lock; it makes no
 * system call on the output and never waits for it. The main thread owns the terminal: it
 * writes what the ring holds without blocking (host/output-writer.ts) and, when the output is
 * full, waits for it to become writable in the event loop, where SIGINT, console input and the
 * VM's lifecycle go on being handled. One drainer means the bytes leave in the order the UART
 * put them in the ring, whichever vCPU wrote them.
 *
 * How the guest is throttled: the ring holds OUTPUT_RING_BYTES. When it is full the UART's
 * transmitter keeps the next bytes (its shift register and its FIFO, 17 bytes at most) and LSR
 * shows THRE and TEMT clear, so a polled driver spins on LSR (in the guest, one exit per read)
 * and an interrupt-driven one waits for THR-empty. Once the drainer has written some bytes out
 * and freed room, it resumes the UART's transmitter (Uart16550.resumeTransmitter, which takes
 * the UART's lock), the FIFO empties and THR-empty fires. Memory stays bounded by the ring and
 * the UART's FIFO: nothing else holds output.
 *
 * Lock order: the UART's lock, then the interrupt controllers' (a line's setLevel). The ring has
 * no lock; the drainer takes the UART's lock only to resume the transmitter, never while
 * writing or waiting, and a vCPU wakes the drainer only after releasing it.
 */
import type { OutputRing } from '../devices/output-ring.js';
import type { OutputWriter } from '../host/output-writer.js';

/** The UART whose output this is, as the draining thread sees it. */
export interface Transmitter {
  /** The output has room again: send what the transmitter holds. */
  resumeTransmitter(): void;
}

export class SerialOutput {
  private closed = false;
  /** Output failed (EPIPE, EIO, ...): what the guest prints from then on is dropped, so that it is never stuck. */
  private failed = false;
  /** Set by finish(): resolves once the ring and the transmitter are empty (true), or on close() (false). */
  private finished: ((delivered: boolean) => void) | undefined;
  private readonly pump = () => this.drain();

  constructor(
    private readonly ring: OutputRing,
    private readonly transmitter: Transmitter,
    private readonly writer: OutputWriter,
    /** Tells the user once when the output fails. */
    private readonly report: (message: string) => void,
  ) {}

  /** Starts draining; the drainer sleeps until the guest writes. */
  start(): void {
    this.drain();
  }

  /**
   * Once the vCPUs have stopped: resolves true when everything the guest wrote has reached the
   * output, false when close() cut that short. The output may take as long as its reader likes.
   */
  finish(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.finished = resolve;
      this.ring.interruptWait(); // a drainer asleep on an empty ring looks again, and sees it is done
    });
  }

  /**
   * Stops draining, for good. What the output takes at once still goes out (the last lines
   * before a Ctrl-C, everything for a file); the rest is dropped. At most one ring's worth is
   * written: a vCPU still running cannot keep this going.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let part = 0; part < 2; part++) {
      const bytes = this.ring.readable(); // the ring's contents are at most two views: before and after its end
      const written = bytes.length > 0 ? this.write(bytes) : 0;
      if (written === 0) break;
      this.ring.consume(written);
    }
    this.writer.close();
    this.ring.interruptWait();
    this.finished?.(false);
  }

  /**
   * One step, then the next is scheduled: after a write through setImmediate, so that a guest
   * printing without pause cannot keep the event loop from signals and input; otherwise when
   * the output is writable again, or when the ring has bytes. Exactly one step is pending at a time.
   */
  private drain(): void {
    for (;;) {
      if (this.closed) return;
      const bytes = this.ring.readable();
      if (bytes.length > 0) {
        const written = this.write(bytes);
        if (written === 0) {
          this.writer.whenWritable(this.pump);
          return;
        }
        this.ring.consume(written);
        if (this.ring.takeRefused()) this.transmitter.resumeTransmitter();
        setImmediate(this.pump);
        return;
      }
      // Empty. A refusal the last step did not see still needs its resume (it refills the ring).
      if (this.ring.takeRefused()) {
        this.transmitter.resumeTransmitter();
        continue;
      }
      if (this.finished) {
        this.finished(true);
        return;
      }
      const wait = this.ring.waitForData();
      if (wait) {
        void wait.then(this.pump);
        return;
      }
    }
  }

  private write(bytes: Uint8Array): number {
    if (this.failed) return bytes.length;
    try {
      return this.writer.write(bytes);
    } catch (error) {
      this.failed = true;
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      this.report(`writing the guest's serial output failed (${code}): what the guest prints from now on is dropped.`);
      return bytes.length;
    }
  }
}
