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
 * for; a hook must not inherit that). The wait status, or -1 if it could
 * not be run. */
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
	return status;
}

static bool succeeded(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Runs one hook with %i expanded (as in wg-quick); its wait status, or -1
 * if it was not run. config_load already refused hooks too long for the
 * longest name, and a name outside wg-quick's alphabet never reaches the
 * shell. */
static int run_hook(const char *hook, const char *ifname)
{
	char cmd[HOOK_CMD_MAX];

	switch (hook_expand(cmd, sizeof(cmd), hook, ifname)) {
	case HOOK_EXPAND_OK:
		break;
	case HOOK_EXPAND_BAD_NAME:
		log_error("hook not run: invalid interface name");
		return -1;
	case HOOK_EXPAND_TOO_LONG:
		log_error("hook not run: longer than %d bytes with %%i replaced", HOOK_CMD_MAX - 1);
		return -1;
	}
	log_info("running hook: %s", cmd);
	return run_shell(cmd);
}

void run_hooks(char **cmds, size_t n, const char *ifname)
{
	for (size_t i = 0; i < n; i++)
		if (!succeeded(run_hook(cmds[i], ifname)))
			log_warn("%s: hook %zu of %zu failed", ifname, i + 1, n);
}

int run_up_hooks(const char *kind, char **cmds, size_t n, const char *ifname, char *err,
		 size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		int status = run_hook(cmds[i], ifname);

		if (succeeded(status))
			continue;
		/* The command is a line of the config: named by position. */
		if (status >= 0 && WIFEXITED(status))
			snprintf(err, err_len, "%s hook %zu of %zu failed (exit status %d): "
				 "up aborted", kind, i + 1, n, WEXITSTATUS(status));
		else
			snprintf(err, err_len, "%s hook %zu of %zu failed (killed or not run): "
				 "up aborted", kind, i + 1, n);
		return -1;
	}
	return 0;
}
