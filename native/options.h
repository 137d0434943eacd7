/*
 * jobshim's command line and the job's environment file (options.c).
 */
#ifndef JOBWORKER_OPTIONS_H
#define JOBWORKER_OPTIONS_H

#include "shim.h"

/* NULL, or what is wrong with the command line. */
const char *parse_options(int argc, char **argv, struct options *o);

/* Reads --env-file into o->envp and removes the file; NULL, or why it could not. */
const char *load_environment(struct options *o);

#endif
