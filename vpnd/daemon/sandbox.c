/* Privilege dropping with libcap-ng and a seccomp allowlist with
 * libseccomp. */
#include "vpnd/daemon/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/udp.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vpnd/common/log.h"

void sandbox_no_core(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
#ifndef VPND_SANITIZED	/* LeakSanitizer's scan ptraces the process */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

void sandbox_close_inherited(void)
{
	int fd;

	/* Whatever the caller left open (a shell's fds, a parent's sockets)
	 * would reach the worker through the fork. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (fd = 3; fd < (max > 0 ? max : 1024); fd++)
			close(fd);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
}

const char *sandbox_worker_user(bool say)
{
	const char *user = getenv("VPND_USER");

	if (user)
		return user;
	if (getpwnam(SANDBOX_DEFAULT_USER))
		return SANDBOX_DEFAULT_USER;
	/* nobody is shared (another nobody process may signal or ptrace-race
	 * the worker): only when vpnd's own user is missing, and said. */
	if (say)
		log_warn("no user '%s' (make install creates it): the worker runs as the "
			 "shared user '%s'", SANDBOX_DEFAULT_USER, SANDBOX_FALLBACK_USER);
	return SANDBOX_FALLBACK_USER;
}

enum sandbox_result sandbox_drop_privileges(const char *user, char *err, size_t err_len)
{
	struct passwd *pw;

	if (!user)
		user = sandbox_worker_user(true);
	if (!strcmp(user, "root"))
		return SANDBOX_OK;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, err_len, "unknown user: '%s'", user);
		return SANDBOX_ERR_USER;
	}
	/* No capability at all: the monitor makes, binds and marks the UDP
	 * sockets (broker.h), and the TUN is open already. */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)pw->pw_uid, (int)pw->pw_gid,
			    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0) {
		snprintf(err, err_len, "cannot switch to user '%s'", user);
		return SANDBOX_ERR_CAPS;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return SANDBOX_OK;
}

/* What the worker needs: I/O on its fds, the monitor channel (sendmsg and
 * recvmsg carry descriptors), memory, time, randomness, signals, threads
 * (and the eventfd and futexes between them), exit. No socket(), bind() or
 * ioctl(): the monitor makes sockets, the TUN is set up. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(readv),
	SCMP_SYS(close), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(recvmmsg), SCMP_SYS(recvmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendmmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(sendto), SCMP_SYS(accept4), SCMP_SYS(getsockname),
	SCMP_SYS(fcntl), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(futex), SCMP_SYS(sched_yield),
	/* the handshake thread: its eventfds and its nice value */
	SCMP_SYS(eventfd2), SCMP_SYS(setpriority),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* setsockopt(fd, level, name) pairs the worker may set: the UAPI
 * connection's timeouts, UDP segmentation offload, and the packet-info
 * options (the source address of a received datagram, its outer TOS /
 * traffic class for ECN). Nothing reaches netfilter (IPT_SO_*), the mark,
 * IP_TRANSPARENT or forced buffer sizes. */
static const int setsockopts[][2] = {
	{ SOL_SOCKET, SO_RCVTIMEO }, { SOL_SOCKET, SO_SNDTIMEO },
	{ SOL_UDP, UDP_SEGMENT }, { SOL_UDP, UDP_GRO },
	{ IPPROTO_IP, IP_PKTINFO }, { IPPROTO_IPV6, IPV6_RECVPKTINFO },
	{ IPPROTO_IP, IP_RECVTOS }, { IPPROTO_IPV6, IPV6_RECVTCLASS },
};
static const int getsockopts[][2] = {
	{ SOL_SOCKET, SO_ERROR }, { SOL_SOCKET, SO_TYPE },
};

/* Allows syscall nr when argument arg compares op against a (and b). */
static int allow_if(scmp_filter_ctx ctx, int nr, unsigned arg, enum scmp_compare op,
		    scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp cmp = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

static int allow_sockopts(scmp_filter_ctx ctx, int nr, const int (*pairs)[2], size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		struct scmp_arg_cmp cmp[2] = {
			{ .arg = 1, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)pairs[i][0] },
			{ .arg = 2, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)pairs[i][1] },
		};

		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 2, cmp);
	}
	return rc;
}

/* Memory, never executable: no new code once the filter is in (a
 * PROT_EXEC request fails with EPERM, so a late dlopen fails cleanly). */
static int allow_memory(scmp_filter_ctx ctx)
{
	static const int calls[] = { SCMP_SYS(mmap), SCMP_SYS(mprotect) };
	int rc = 0;

	for (size_t i = 0; i < 2 && !rc; i++) {
		struct scmp_arg_cmp exec = { .arg = 2, .op = SCMP_CMP_MASKED_EQ,
					     .datum_a = PROT_EXEC, .datum_b = PROT_EXEC };

		rc = allow_if(ctx, calls[i], 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		if (!rc)
			rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), calls[i], 1,
						    &exec);
	}
	return rc;
}

/* Any other system call lands here (SECCOMP_RET_TRAP), is not run, and
 * ends the process after one line on stderr (the log) naming it: write(2)
 * and _exit only, both async-signal-safe and allowed. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[80] = "vpnd: worker: seccomp: forbidden system call ";
	size_t len = strlen(msg);
	char digits[12];
	int n = si->si_syscall, k = 0;

	(void)uc;
	do
		digits[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0 && k < 11);
	while (k > 0)
		msg[len++] = digits[--k];
	msg[len++] = '\n';
	if (write(STDERR_FILENO, msg, len) < 0)
		_exit(128 + sig);
	_exit(128 + sig);
}

static int trap_forbidden(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigset_t sys;

	sigfillset(&sa.sa_mask);
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	/* A blocked SIGSYS still kills (the kernel forces it), only silently. */
	return -pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
}

/* The TUN's io_uring (tun/tun_ring.h), made and locked down before the
 * filter: its SQEs are limited by the ring's own restrictions (only its
 * read and cancel, only on the TUN), which the kernel checks where
 * seccomp cannot see. Of io_uring_register, only dropping the ring's
 * files (at stop, so that closing the TUN deletes the interface at once).
 * No io_uring_setup: no new ring. */
static int allow_io_uring(scmp_filter_ctx ctx)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter), 0);

	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(io_uring_register), 1, SCMP_CMP_EQ,
			      IORING_UNREGISTER_FILES, 0);
	return rc;
}

enum sandbox_result sandbox_install_seccomp(bool io_uring, char *err, size_t err_len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	enum sandbox_result ret = SANDBOX_ERR_SECCOMP;
	int rc = trap_forbidden();

	if (!ctx || rc)
		goto out;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (!rc)
		rc = allow_sockopts(ctx, SCMP_SYS(setsockopt), setsockopts,
				    sizeof(setsockopts) / sizeof(setsockopts[0]));
	if (!rc)
		rc = allow_sockopts(ctx, SCMP_SYS(getsockopt), getsockopts,
				    sizeof(getsockopts) / sizeof(getsockopts[0]));
	if (!rc)
		rc = allow_memory(ctx);
	/* Signals to its own threads only (raise, abort): never to another
	 * process, even one of the same user. */
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(tgkill), 0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
	/* glibc's pthread_create sets signal actions; SIGSYS's stays ours. */
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(rt_sigaction), 0, SCMP_CMP_NE, SIGSYS, 0);
	/* Threads yes, new processes no: clone only with CLONE_THREAD. clone3
	 * hides its flags in memory, so it answers ENOSYS and glibc falls back
	 * to clone. */
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(clone), 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
			      CLONE_THREAD);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!rc && io_uring)
		rc = allow_io_uring(ctx);
	if (!rc)
		rc = seccomp_load(ctx);
	if (!rc)
		ret = SANDBOX_OK;
out:
	if (ret != SANDBOX_OK)
		snprintf(err, err_len, "cannot install the seccomp filter: %s", strerror(-rc));
	seccomp_release(ctx);
	return ret;
}
