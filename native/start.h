/*
 * Starting the job (start.c).
 */
#ifndef JOBWORKER_START_H
#define JOBWORKER_START_H

#include "shim.h"

/* Clones the job's process, places it, releases it and reports the start (or fails it). */
void start_job(struct shim *s);

#endif
