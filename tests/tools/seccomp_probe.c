/* Installs vpnd's seccomp allowlist in this process (as the daemon's worker
 * does) and tries what the daemon never needs: prints one line per probe,
 * "refused" or "ALLOWED", and exits 0 only if every forbidden call was
 * refused and the allowed ones still work. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vpnd/daemon/sandbox.h"

static void *thread_main(void *arg)
{
	return arg;
}

/* The crypto threads are made under the filter: pthread_create (clone3
 * refused with ENOSYS, then clone with CLONE_THREAD) and pthread_join. */
static int make_thread(void)
{
	pthread_t t;
	void *ret = NULL;
	int err = pthread_create(&t, NULL, thread_main, (void *)&make_thread);

	if (err) {
		errno = err;
		return -1;
	}
	if (pthread_join(t, &ret) != 0 || ret != (void *)&make_thread)
		return -1;
	return 0;
}

static int probe(const char *what, int ret, int want_refused)
{
	int refused = ret < 0 && errno == EPERM;

	printf("%-36s %s\n", what, refused ? "refused" : "ALLOWED");
	return refused == want_refused ? 0 : 1;
}

int main(void)
{
	char err[256];
	char *const argv[] = { "/bin/true", NULL };
	int bad = 0;

	if (sandbox_install_seccomp(err, sizeof(err)) != SANDBOX_OK) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	bad |= probe("openat(\"/etc/passwd\")", open("/etc/passwd", O_RDONLY), 1);
	bad |= probe("execve(\"/bin/true\")", execve(argv[0], argv, NULL), 1);
	bad |= probe("fork()", (int)fork(), 1);
	bad |= probe("unlink(\"/tmp/x\")", unlink("/tmp/vpnd-seccomp-probe"), 1);
	bad |= probe("socket(AF_NETLINK, SOCK_RAW)", socket(AF_NETLINK, SOCK_RAW, 0), 1);
	bad |= probe("socket(AF_INET, SOCK_STREAM)", socket(AF_INET, SOCK_STREAM, 0), 1);
	bad |= probe("socket(AF_INET6, SOCK_DGRAM) (needed)",
		     socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 0);
	bad |= probe("socket(AF_UNIX, SOCK_DGRAM) (needed)",
		     socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), 0);
	bad |= probe("getpid() (needed)", getpid() > 0 ? 0 : -1, 0);
	bad |= probe("pthread_create() (needed)", make_thread(), 0);
	fflush(stdout);
	/* _exit: LeakSanitizer's exit-time scan cannot run under the filter. */
	_exit(bad);
}
