#!/bin/sh
# Runs this kernel project's Makefile, unmodified, with QEMU=tsvisor-qemu, and checks what
# its harness makes of it:
#   make test                          the kernel's tests pass: status 33, "tests passed", make succeeds
#   make test TEST_ARGS=inject-failure one test fails: status 35, "tests failed", make fails
#   make run                           the kernel greets and powers off: status 0
# tsvisor-qemu is this checkout's (dist/bundle/tsvisor-qemu.js, built by `npm run build`),
# found on PATH as an installed one would be. Exit status 0 when every check holds, 1 when
# one does not (with what was seen), 2 when tsvisor is not built.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tsvisor_qemu="$repo/dist/bundle/tsvisor-qemu.js"
if [ ! -x "$tsvisor_qemu" ]; then
    echo "check-under-tsvisor.sh: $tsvisor_qemu is not built; run \`npm run build\` in $repo first." >&2
    exit 2
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
ln -s "$tsvisor_qemu" "$bin/tsvisor-qemu"
PATH="$bin:$PATH"
export PATH

failed=0
# check <what> <expected make status: 0 or non-zero> <text the output must end with> <make arguments...>
check() {
    what=$1 want=$2 last=$3
    shift 3
    output=$(make --no-print-directory -C "$here" QEMU=tsvisor-qemu "$@" 2>&1)
    status=$?
    printf '%s\n' "--- make $* QEMU=tsvisor-qemu" "$output"
    if { [ "$want" = 0 ] && [ $status -ne 0 ]; } || { [ "$want" != 0 ] && [ $status -eq 0 ]; }; then
        echo "FAIL: $what: make exited with status $status" >&2
        failed=1
    elif ! printf '%s\n' "$output" | grep -v '^make: \*\*\*' | tail -n 1 | grep -qxF -- "$last"; then
        echo "FAIL: $what: the output does not end with \"$last\"" >&2
        failed=1
    else
        echo "ok: $what"
    fi
}

make --no-print-directory -C "$here" -s all || exit 1
check 'the tests pass (status 33)' 0 'tests passed' test
check 'an injected failure fails the run (status 35)' 1 'tests failed: the emulator exited with status 35' test TEST_ARGS=inject-failure
check 'make run powers off (status 0)' 0 'Hello from the example kernel!' run
[ $failed -eq 0 ] && echo "All checks passed: the Makefile's qemu-system-x86_64 command line runs unmodified under tsvisor-qemu."
exit $failed
