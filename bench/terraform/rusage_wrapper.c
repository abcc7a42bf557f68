/*
 * Stands in for terraform-provider-appmesh in the benchmark's dev_overrides directory: runs
 * the real provider ($TFBENCH_PROVIDER) as a child with the same arguments and inherited
 * stdin/stdout/stderr (Terraform reads the go-plugin handshake line from stdout, so nothing
 * here touches it), forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT, waits, and appends the child's
 * rusage as one JSON line to $TFBENCH_RUSAGE. Exits with the child's code (or re-raises its
 * signal). With $TFBENCH_PLUGIN_LOG_DIR set, each provider process gets its own
 * PLUGIN_LOG_FILE there (tf-provider's trace log, which names every RPC it serves).
 *
 * Written in C rather than Python so that the wrapper costs ~1 ms per provider start: the
 * wall time it adds is charged to the provider's side of the comparison. bench.py compiles
 * it with `cc -O2`; without a C compiler it falls back to an equivalent Python wrapper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child = 0;

static void forward(int sig) {
    if (child > 0)
        kill(child, sig);
}

static double seconds(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
    (void)argc;
    const char *real = getenv("TFBENCH_PROVIDER");
    const char *log = getenv("TFBENCH_RUSAGE");
    if (real == NULL || *real == '\0') {
        fprintf(stderr, "rusage_wrapper: TFBENCH_PROVIDER is not set\n");
        return 127;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &sa, NULL);

    pid_t pid = fork();
    if (pid < 0) {
        perror("rusage_wrapper: fork");
        return 127;
    }
    if (pid == 0) {
        /* exec resets caught signals to their defaults. */
        const char *log_dir = getenv("TFBENCH_PLUGIN_LOG_DIR");
        if (log_dir != NULL && *log_dir != '\0') {
            char path[4096];
            snprintf(path, sizeof path, "%s/provider-%d.log", log_dir, (int)getpid());
            setenv("PLUGIN_LOG_FILE", path, 1);
        }
        argv[0] = (char *)real;
        execv(real, argv);
        perror("rusage_wrapper: exec");
        _exit(127);
    }
    child = pid;

    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("rusage_wrapper: wait4");
            return 127;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    if (log != NULL && *log != '\0') {
        struct rusage self;
        getrusage(RUSAGE_SELF, &self);
        FILE *f = fopen(log, "a");
        if (f != NULL) {
            fprintf(f,
                    "{\"pid\":%d,\"utime\":%.6f,\"stime\":%.6f,\"maxrss_kb\":%ld,"
                    "\"wall\":%.6f,\"status\":%d,\"wrapper_cpu\":%.6f}\n",
                    (int)pid, seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_maxrss, wall,
                    status, seconds(self.ru_utime) + seconds(self.ru_stime));
            fclose(f);
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        raise(sig);
        return 128 + sig;
    }
    return 1;
}
