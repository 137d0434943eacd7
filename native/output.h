/*
 * The job's output, recorded in the job directory (output.c).
 */
#ifndef JOBWORKER_OUTPUT_H
#define JOBWORKER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "shim.h"

/* Opens (appending) output.log, output.idx and output.times; -1 with `error` set. */
int open_output_files(struct shim *s, char *error, size_t error_len);

/* Reads what the job wrote on *fd and records it; closes *fd at its end. */
void copy_output(struct shim *s, int *fd, bool is_stderr);

#endif
