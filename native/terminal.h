/*
 * A job's pseudo-terminal (terminal.c), allocated on the job's side and driven on the shim's.
 */
#ifndef JOBWORKER_TERMINAL_H
#define JOBWORKER_TERMINAL_H

#include "shim.h"

/* In the job, before exec: the terminal as its fds 0-2, the master end sent to the shim. */
int attach_terminal(const struct options *o, int console_fd);

/* In the shim: the master end the job sent; -1 with errno set. */
int receive_fd(int socket_fd);

void flush_terminal_input(struct shim *s);
void read_terminal_input(struct shim *s);

/* "resize ROWS COLS": the job gets SIGWINCH. */
void resize_terminal(struct shim *s, const char *args);

#endif
