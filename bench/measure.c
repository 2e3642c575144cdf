/*
 * measure: runs one program and reports how long it took to start and to finish and how
 * much memory it used, for the bench harness's boot-time comparison of tsvisor, QEMU and
 * mb-floor. Doing this in C rather than from node keeps the harness's own start-up and
 * event loop out of the numbers: the clock starts just before fork and the first-byte
 * time is taken as soon as the child's first stdout byte can be read.
 *
 * Usage: measure <program> [args...]
 * The child's stdout goes through a pipe and is copied to measure's stdout; its stdin and
 * stderr are inherited. When it has exited, measure prints to stderr
 *   measure wall_ns=<start to exit> first_byte_ns=<start to first stdout byte, or -1>
 *           max_rss_kb=<the child's ru_maxrss> status=<exit status, or 128+signal>
 * (one line) and exits 0; 2 if it could not run the measurement at all. A program that
 * cannot be executed shows up as status=127, as in a shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "measure: %s: %s\n", what, strerror(errno));
    return 2;
}

/* Returns 0 once all of buffer is written, -1 if stdout is gone. */
static int write_all(const char *buffer, size_t size) {
    while (size > 0) {
        ssize_t n = write(STDOUT_FILENO, buffer, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        buffer += n;
        size -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <program> [args...]\n", argv[0]);
        return 2;
    }
    /* O_CLOEXEC: the child gets the write end only as its stdout (dup2 clears the flag). */
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) return fail("pipe");

    int64_t start = now_ns();
    pid_t pid = fork();
    if (pid < 0) return fail("fork");
    if (pid == 0) {
        if (dup2(out[1], STDOUT_FILENO) < 0) _exit(127);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "measure: %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    close(out[1]);
    /* If our reader goes away (`| head`), keep draining the child's output rather than
     * dying or blocking it: its exit status and timings are still wanted. */
    signal(SIGPIPE, SIG_IGN);

    int64_t first_byte = -1;
    int copying = 1;
    char buffer[1 << 16];
    for (;;) {
        ssize_t n = read(out[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("read");
        if (n == 0) break;
        if (first_byte < 0) first_byte = now_ns() - start;
        if (copying && write_all(buffer, (size_t)n) < 0) copying = 0;
    }
    close(out[0]);

    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0)
        if (errno != EINTR) return fail("wait4");
    int64_t wall = now_ns() - start;

    int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    fprintf(stderr, "measure wall_ns=%lld first_byte_ns=%lld max_rss_kb=%ld status=%d\n", (long long)wall,
            (long long)first_byte, usage.ru_maxrss, code);
    return 0;
}
