/* wg-quick hooks (PreUp, PostUp, PreDown, PostDown), run by the root
 * monitor through /bin/sh with %i replaced by the interface name. */
#include "vpnd/daemon/hooks.h"

#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vpnd/common/log.h"

/* sh -c cmd with no signal blocked (the monitor blocks the ones it waits
 * for; a hook must not inherit that). 0 if it exited 0. */
static int run_shell(const char *cmd)
{
	sigset_t none;
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

void run_hooks(char **cmds, size_t n, const char *ifname)
{
	for (size_t i = 0; i < n; i++) {
		char cmd[8192];
		size_t o = 0;

		/* %i is the interface name, as in wg-quick. */
		for (const char *s = cmds[i]; *s && o + IFNAMSIZ + 1 < sizeof(cmd); s++) {
			if (s[0] == '%' && s[1] == 'i') {
				o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s", ifname);
				s++;
			} else {
				cmd[o++] = *s;
			}
		}
		cmd[o] = '\0';
		log_info("running hook: %s", cmd);
		if (run_shell(cmd) != 0)
			log_warn("hook failed: %s", cmd);
	}
}
