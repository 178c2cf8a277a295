/* wg-quick hooks (PreUp, PostUp, PreDown, PostDown), run by the root
 * monitor through /bin/sh with %i replaced by the interface name. */
#include "vpnd/daemon/hooks.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vpnd/common/ifname.h"
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
		char cmd[HOOK_CMD_MAX];

		/* %i is the interface name, as in wg-quick; config_load already
		 * refused hooks too long for the longest name, and a name
		 * outside wg-quick's alphabet never reaches the shell. */
		switch (hook_expand(cmd, sizeof(cmd), cmds[i], ifname)) {
		case HOOK_EXPAND_OK:
			break;
		case HOOK_EXPAND_BAD_NAME:
			log_error("hook not run: invalid interface name");
			continue;
		case HOOK_EXPAND_TOO_LONG:
			log_error("hook not run: longer than %d bytes with %%i replaced",
				  HOOK_CMD_MAX - 1);
			continue;
		}
		log_info("running hook: %s", cmd);
		if (run_shell(cmd) != 0)
			log_warn("hook failed: %s", cmd);
	}
}
