/*
 * jobshim's small helpers (shim-util.c): clocks, diagnostics to the supervisor's log, whole reads
 * and writes, descriptors, counts.
 */
#ifndef JOBWORKER_SHIM_UTIL_H
#define JOBWORKER_SHIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

long long monotonic_ms(void);
long long epoch_ms(void);

/* A line on stderr, which the server appends to the job's supervisor log. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int write_all(int fd, const void *data, size_t len);
ssize_t read_full(int fd, void *data, size_t len);
int set_nonblocking(int fd);
void close_fd(int *fd);
int redirect_to_dev_null(int target, int flags);
void sanitize_fds(void);
bool parse_count(const char *text, long long max, long long *out);
const char *signal_name(int sig, char *buf, size_t len);

#endif
