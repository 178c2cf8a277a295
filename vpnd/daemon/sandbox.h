/* Least privilege for the packet-handling process: once the interface is
 * set up it runs as an unprivileged user (default "vpnd", else "nobody";
 * $VPND_USER to choose; "root" keeps root) with no capability at all (the monitor makes
 * its UDP sockets: broker.h), no new privileges, and a seccomp allowlist
 * of the system calls it uses. */
#ifndef VPND_SANDBOX_H
#define VPND_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum sandbox_result {
	SANDBOX_OK = 0,
	SANDBOX_ERR_USER,	/* unknown user */
	SANDBOX_ERR_CAPS,	/* could not change ids or capabilities */
	SANDBOX_ERR_SECCOMP,	/* could not install the filter */
};

/* The worker's own system user (make install, sysusers.d); nobody only
 * when it does not exist, with a warning. */
#define SANDBOX_DEFAULT_USER "vpnd"
#define SANDBOX_FALLBACK_USER "nobody"

/* No core file and not dumpable (no ptrace by the same uid, /proc/PID/mem
 * and environ root-only): both processes hold keys. Sanitizer builds stay
 * dumpable, since LeakSanitizer ptraces the process; they still write no
 * core. Changing uid makes a process dumpable again: call after it. */
void sandbox_no_core(void);
/* Closes every descriptor above stderr (close_range) and points stdin at
 * /dev/null: nothing inherited reaches the worker. Call first thing. */
void sandbox_close_inherited(void);
/* $VPND_USER, else vpnd if it exists, else nobody (with a warning if
 * say). */
const char *sandbox_worker_user(bool say);
/* user NULL: sandbox_worker_user(true). */
enum sandbox_result sandbox_drop_privileges(const char *user, char *err, size_t err_len);
/* Installs the allowlist (and a SIGSYS handler): any other system call is
 * not run and ends the process after a line on stderr naming it; an
 * executable mapping fails with EPERM. io_uring: the worker holds a
 * restricted ring (tun/tun_ring.h), so io_uring_enter, and
 * io_uring_register to unregister its files, are allowed too. */
enum sandbox_result sandbox_install_seccomp(bool io_uring, char *err, size_t err_len);

#endif
