#!/usr/bin/env python3
"""Records QEMU 7.2's human monitor byte for byte into qemu-hmp.json, the oracle
test/monitor/*.test.ts hold tsvisor's monitor to. Run by hand where qemu-system-x86_64 is:
    python3 test/monitor/record-qemu-hmp.py
Two sessions: "socket", the readline monitor on a unix socket (-monitor unix:...), and "mux",
-serial mon:stdio on a pseudo-terminal (the bytes as the terminal's master reads them, after
the terminal's own output processing). Each step sends its input and collects what comes back
until QEMU has been quiet for 500 ms. Output that names this QEMU (its version, its thread ids)
is kept as recorded: the tests leave those lines out."""
import json, os, pty, select, socket, subprocess, sys, tempfile, termios, time

HERE = os.path.dirname(os.path.abspath(__file__))
MACHINE = ['qemu-system-x86_64', '-accel', 'tcg', '-m', '16', '-nodefaults', '-S']

SOCKET_STEPS = ['info status\r', 'foo\n', 'stop\n', 'help cont\n', 'info status extra\n', 'cont\n', 'info status\n',
                'ab\x7fc\n', '\x1b[A\n', 'x\x1b[Dy\n', 'c\r\n', '\n', 'help stop\n', 'info\n', 'help info status\n', 'quit\n']
MUX_STEPS = ['\x01h', '\x01c', 'info status\r', '\x01c', '\x01\x01', '\x01z', '\x01c', 'stop\n', '\x01x']


def collect(read, quiet=0.5, first=1.0):
    out, last, start = b'', time.time(), time.time()
    while True:
        chunk = read(0.05)
        if chunk is None:
            return out + b'<EOF>'
        if chunk:
            out, last = out + chunk, time.time()
        elif time.time() - last > quiet and (out or time.time() - start > first):
            return out


def record_socket():
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, 'hmp.sock')
    qemu = subprocess.Popen(MACHINE + ['-display', 'none', '-monitor', f'unix:{path},server=on,wait=off'])
    while not os.path.exists(path):
        time.sleep(0.02)
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)

    def read(timeout):
        ready, _, _ = select.select([client], [], [], timeout)
        if not ready:
            return b''
        data = client.recv(65536)
        return data if data else None
    greeting = collect(read)
    steps = []
    for text in SOCKET_STEPS:
        client.sendall(text.encode('latin1'))
        steps.append([text, collect(read).decode('latin1')])
    qemu.wait()
    return {'greeting': greeting.decode('latin1'), 'steps': steps, 'status': qemu.returncode}


def record_mux():
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(MACHINE[0], MACHINE + ['-nographic', '-serial', 'mon:stdio'])

    def read(timeout):
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            return b''
        try:
            data = os.read(master, 65536)
        except OSError:
            return None
        return data if data else None
    start = collect(read, first=1.5)
    attrs = termios.tcgetattr(master)
    modes = {'ISIG': bool(attrs[3] & termios.ISIG), 'ICANON': bool(attrs[3] & termios.ICANON), 'ECHO': bool(attrs[3] & termios.ECHO),
             'OPOST': bool(attrs[1] & termios.OPOST), 'ICRNL': bool(attrs[0] & termios.ICRNL)}
    steps = []
    for text in MUX_STEPS:
        os.write(master, text.encode('latin1'))
        steps.append([text, collect(read).decode('latin1')])
    _, status = os.waitpid(pid, 0)
    return {'start': start.decode('latin1'), 'terminalModes': modes, 'steps': steps, 'status': os.waitstatus_to_exitcode(status)}


version = subprocess.run(['qemu-system-x86_64', '--version'], capture_output=True, text=True).stdout.split('\n')[0]
result = {'recordedWith': version, 'socket': record_socket(), 'mux': record_mux()}
with open(os.path.join(HERE, 'qemu-hmp.json'), 'w') as out:
    json.dump(result, out, indent=1)
    out.write('\n')
print('recorded', version, file=sys.stderr)
