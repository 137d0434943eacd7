/*
 * The FIFOs the server talks to a running job through (control.c).
 */
#ifndef JOBWORKER_CONTROL_H
#define JOBWORKER_CONTROL_H

#include <stddef.h>

#include "shim.h"

/* Makes the FIFO at path if need be and opens it for reading, without waiting for a writer. */
int open_fifo(const char *path, int *out, char *error, size_t error_len);

/* --stdin: the job's input FIFO, and the writer the shim holds until "close-stdin". */
int open_stdin_fifo(struct shim *s, char *error, size_t error_len);

/* Obeys each whole command line waiting on the control FIFO. */
void read_control(struct shim *s);

#endif
