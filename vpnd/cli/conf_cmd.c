/* vpnd strip and vpnd showconf: configurations in the form wg(8) reads, on
 * stdout (they hold the private key: stdout only, never a message). */
#include "vpnd/cli/conf_cmd.h"

#include <limits.h>
#include <net/if.h>
#include <stdio.h>

#include "vpnd/control/config.h"
#include "vpnd/control/reload_apply.h"
#include "vpnd/control/saveconf.h"

static void warn_cb(const char *msg)
{
	fprintf(stderr, "vpnd: %s\n", msg);
}

int strip_main(int argc, char **argv)
{
	struct config cfg = { 0 };
	char path[PATH_MAX], ifname[IFNAMSIZ], err[1024];
	int ret = 1;

	if (argc != 2)
		return VPND_EXIT_USAGE;	/* cli/main.c checks it first */
	if (!config_resolve(argv[1], path, sizeof(path), ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	/* Parsed whole first: a config wg-quick or vpnd would refuse is not
	 * half printed. */
	if (config_load(&cfg, path, err, sizeof(err), warn_cb) != CONFIG_OK) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	saveconf_strip(stdout, &cfg);
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	config_free(&cfg);
	return ret;
}

int showconf_main(int argc, char **argv)
{
	struct running_state rs;
	char err[1024];
	int ret = 1;

	if (argc != 2)
		return VPND_EXIT_USAGE;	/* cli/main.c checks it first */
	if (saveconf_fetch(argv[1], &rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	saveconf_running(stdout, &rs);
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	running_state_free(&rs);
	return ret;
}
