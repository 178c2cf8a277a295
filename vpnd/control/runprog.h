/* Running a system program (nft, resolvconf, resolvectl) from the root
 * monitor: argv only, never a shell; found on $PATH (or the usual
 * directories when PATH is unset). */
#ifndef VPND_CONTROL_RUNPROG_H
#define VPND_CONTROL_RUNPROG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The full path of name on $PATH into out; false if there is none. */
bool runprog_find(const char *name, char out[PATH_MAX]);
/* Runs argv (argv[0] a full path) with no signal blocked, input (or
 * nothing) on its stdin, its output on ours; quiet: stdout and stderr to
 * /dev/null. 0 if it exited 0, -1 otherwise. */
int runprog(char *const argv[], const char *input, bool quiet);

#endif
