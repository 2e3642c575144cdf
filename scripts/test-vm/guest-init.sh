#!/bin/busybox sh
# /init of the test VM (a static busybox, the kernel modules for KVM's AMD side and 9p, and
# this script). It mounts the host's root file system (shared by QEMU over virtio-9p), binds
# the guest's own /proc, /sys and /dev into it (so /dev/kvm is the guest's real KVM), and runs
# one command there with chroot, in the host's folder it was started from:
#   ttyS0  the console: this script's progress and the kernel's messages (the runner keeps them)
#   ttyS1  the command's stdout      ttyS2  the command's stderr
# The command's status goes to the run folder's "status" file. The kernel command line
# names the run folder (tsvisor_vm.run=) and the time limit in seconds (tsvisor_vm.timeout=).
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "test-vm: $*" > /dev/console; }
stop() { sync; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The loopback interface: tests talk to tsvisor (and QEMU) over 127.0.0.1 sockets.
ifconfig lo 127.0.0.1 up || say "cannot bring up the loopback interface"
say "kernel up"

for module in $(cat /modules/order); do
  insmod "/modules/$module.ko" || say "insmod $module failed"
done
[ -c /dev/kvm ] || say "no /dev/kvm: KVM's AMD module did not load (the CPU model must offer SVM)"

option() { sed -n "s/.*tsvisor_vm\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
run=$(option run)
limit=$(option timeout)

mkdir -p /host
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose host /host; then
  say "cannot mount the host's file system over 9p"
  stop
fi
for fs in proc sys dev; do mount --rbind "/$fs" "/host/$fs"; done
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs shm /host/dev/shm
mkdir -p /host/dev/shm/tmp # the command's TMPDIR (test-vm.mjs): scratch files off 9p
chmod 1777 /host/dev/shm/tmp
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo

# What runs when the time limit is reached: every process and thread, its state and the kernel
# function it waits in (wchan), so a hang can be read from the console the runner prints.
report_tasks() {
  say "time limit of $limit s reached; the guest's tasks (pid/tid state wchan command):"
  for task in /proc/[0-9]*/task/[0-9]*; do
    pid=${task#/proc/}; pid=${pid%%/*}
    tid=${task##*/}
    command=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-160)
    [ -n "$command" ] || continue # a kernel thread
    state=$(cut -d' ' -f3 "$task/stat" 2>/dev/null)
    wchan=$(cat "$task/wchan" 2>/dev/null)
    echo "  $pid/$tid $state ${wchan:-0} $(cat "$task/comm" 2>/dev/null): $command" > /dev/console
  done
  say "end of tasks"
}
( sleep "$limit"; report_tasks; stop ) &
watchdog=$!

# Hold one VM open while the command runs. KVM (Linux 6.1) turns SVM on in every CPU when the
# first VM is created and off again when the last one is gone, each time with an IPI to every CPU
# and a wait for all of them; under QEMU's software emulator that wait was seen to never end
# (kvm_destroy_vm in on_each_cpu_cond_mask, both CPUs in a soft lockup), the first VM of a run or
# the 76th. With a VM held, SVM is turned on once, here, and never off.
chroot /host python3 -c '
import fcntl, os, sys, time
kvm = os.open("/dev/kvm", os.O_RDWR)
fcntl.ioctl(kvm, 0xAE01, 0)  # KVM_CREATE_VM
print("test-vm: holding a VM", flush=True)
time.sleep(1 << 30)
' > /dev/console 2>&1 &
for tries in 1 2 3 4 5 6 7 8 9 10; do
  grep -q kvm_amd /proc/modules && [ -n "$(ls /proc/*/fd -l 2>/dev/null | grep kvm-vm)" ] && break
  sleep 1
done

say "running the command"
# Pipes, not the serial ttys, are the command's stdout and stderr: it runs as it would under a
# harness. Each cat closes its tty last, and the kernel drains a tty on its last close, so
# nothing is lost before power-off.
shell=/bin/sh
[ -x /host/bin/bash ] && shell=/bin/bash
{ chroot /host "$shell" -c '"$0" "$1"; echo $? > "$2"' "$shell" "$run/command.sh" "$run/status" \
    < /dev/null 2>&1 1>&3 3>&- | cat > /dev/ttyS2; } 3>&1 | cat > /dev/ttyS1
kill "$watchdog"
say "command ended"
stop
