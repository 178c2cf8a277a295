/* Privilege dropping with libcap-ng and a seccomp allowlist with
 * libseccomp. */
#include "vpnd/daemon/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

enum sandbox_result sandbox_drop_privileges(const char *user, char *err, size_t err_len)
{
	struct passwd *pw;

	if (!user)
		user = SANDBOX_DEFAULT_USER;
	if (!strcmp(user, "root"))
		return SANDBOX_OK;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, err_len, "unknown user: '%s'", user);
		return SANDBOX_ERR_USER;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN,
		      CAP_NET_BIND_SERVICE, -1);
	if (capng_change_id((int)pw->pw_uid, (int)pw->pw_gid,
			    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0) {
		snprintf(err, err_len, "cannot switch to user '%s' keeping CAP_NET_ADMIN", user);
		return SANDBOX_ERR_CAPS;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return SANDBOX_OK;
}

/* What the event loop needs: I/O on its fds, rebinding the UDP socket
 * (UAPI listen_port), memory, time, randomness, signals, threads, exit. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(readv),
	SCMP_SYS(close), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(recvmmsg), SCMP_SYS(recvmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendmmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(sendto), SCMP_SYS(accept4),
	SCMP_SYS(bind), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(fcntl), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mprotect), SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(tgkill),
	SCMP_SYS(futex), SCMP_SYS(sched_yield),
	/* the handshake thread: its eventfds and its nice value */
	SCMP_SYS(eventfd2), SCMP_SYS(setpriority),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* Allows syscall nr when argument arg compares op against a (and b). */
static int allow_if(scmp_filter_ctx ctx, int nr, unsigned arg, enum scmp_compare op,
		    scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp cmp = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

enum sandbox_result sandbox_install_seccomp(char *err, size_t err_len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	enum sandbox_result ret = SANDBOX_ERR_SECCOMP;
	int rc = 0;

	if (!ctx)
		goto out;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* Threads yes, new processes no: clone only with CLONE_THREAD. clone3
	 * hides its flags in memory, so it answers ENOSYS and glibc falls back
	 * to clone. */
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(clone), 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
			      CLONE_THREAD);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* Datagram sockets only, and only these families: a UDP socket when the
	 * UAPI moves the port, AF_UNIX for if_indextoname. Never netlink: the
	 * worker keeps CAP_NET_ADMIN and must not reconfigure the host. */
	for (size_t i = 0; i < 3 && !rc; i++) {
		static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
		struct scmp_arg_cmp cmp[2] = {
			{ .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)families[i] },
			{ .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xf, .datum_b = SOCK_DGRAM },
		};

		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, cmp);
	}
	/* if_indextoname/if_nametoindex, used to see if the link is gone */
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, SIOCGIFNAME, 0);
	if (!rc)
		rc = allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, SIOCGIFINDEX, 0);
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
