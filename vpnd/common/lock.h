/* Serialises changes to one config (a CLI reload, a SIGHUP, two `peer add`s):
 * an advisory flock on the config file itself, so no lock file is left
 * behind. Blocks until the lock is held; close the fd to release it. */
#ifndef VPND_COMMON_LOCK_H
#define VPND_COMMON_LOCK_H

/* The locked descriptor, or -1 (errno set) if the file cannot be opened or
 * locked. */
int lock_config_file(const char *path);

#endif
