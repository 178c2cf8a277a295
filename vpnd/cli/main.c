/* vpnd command line: a table of subcommands, each a *_main(argc, argv). */
#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "vpnd/control/config.h"
#include "vpnd/control/dns.h"
#include "vpnd/control/fulltunnel.h"
#include "vpnd/daemon/daemon.h"
#include "vpnd/control/forwarding.h"
#include "vpnd/control/reload_apply.h"
#include "vpnd/common/ifname.h"
#include "vpnd/common/log.h"
#include "vpnd/cli/conf_cmd.h"
#include "vpnd/cli/show.h"
#include "vpnd/control/uapi.h"

static int genkey_main(int argc, char **argv);
static int pubkey_main(int argc, char **argv);
static int genpsk_main(int argc, char **argv);
static int up_main(int argc, char **argv);
static int down_main(int argc, char **argv);
static int daemon_main(int argc, char **argv);
static int help_main(int argc, char **argv);
static int version_main(int argc, char **argv);

#ifndef VPND_VERSION
#define VPND_VERSION "0.1.0"
#endif

enum { MAX_FORMS = 4, ANY = -1 };

/* Every usage line vpnd prints comes from here: `vpnd help`, `vpnd help
 * CMD`, `vpnd CMD --help` and the message after a usage error (a command
 * returns VPND_EXIT_USAGE and main prints its forms).
 *
 * own_options: the command parses its options itself (and refuses unknown
 * ones); otherwise main refuses any argument starting with '-' and checks
 * the count of the others against min_args..max_args (ANY: no limit).
 * needs_root: it creates or talks to interfaces (CAP_NET_ADMIN, and the
 * control sockets are root's); said before a bare EACCES or "is not up". */
static const struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *forms[MAX_FORMS];	/* synopses after "vpnd NAME" */
	const char *help;
	bool own_options, needs_root;
	int min_args, max_args;
} subcommands[] = {
	{ "up", up_main, { "[-f|--foreground] [-v|--verbose] [--netns NAME] CONFIG|NAME" },
	  "create the interface from a config and start the daemon (--netns: then move the "
	  "interface into that network namespace)", true, true, 0, 0 },
	{ "down", down_main, { "NAME" }, "stop the daemon and remove its interface",
	  false, true, 1, 1 },
	{ "reload", reload_main, { "NAME|CONFIG" },
	  "re-read the config and apply only what changed (also: SIGHUP to the daemon)",
	  false, true, 1, 1 },
	{ "peer", peer_main,
	  { "add NAME [--iface] IFACE [--ip ADDR]... [--endpoint HOST[:PORT]] [--dns ADDRS] "
	    "[--allowed-ips PREFIXES] [--keepalive SECONDS] [--output FILE] [--qr]",
	    "remove NAME [--iface] IFACE", "list [--iface] IFACE" },
	  "manage a server's clients in NAME.d/", true, false, 0, 0 },
	{ "show", show_main,
	  { "[NAME] [--show-keys] [--rate[=SECONDS]]", "[NAME] --json|--prometheus" },
	  "show interfaces, peers, handshakes, transfer; or as JSON, or Prometheus metrics",
	  true, true, 0, 0 },
	{ "strip", strip_main, { "CONFIG|NAME" },
	  "print the wg(8) part of a config (for wg syncconf)", false, false, 1, 1 },
	{ "showconf", showconf_main, { "IFACE" }, "print the running interface as a wg(8) config",
	  false, true, 1, 1 },
	{ "daemon", daemon_main, { "[-f|--foreground] IFNAME" },
	  "create a bare interface configured over UAPI (wireguard-go's convention)",
	  true, true, 0, 0 },
	{ "genkey", genkey_main, { "" }, "print a new private key (base64)", false, false, 0, 0 },
	{ "pubkey", pubkey_main, { "" }, "read a private key on stdin, print its public key",
	  false, false, 0, 0 },
	{ "genpsk", genpsk_main, { "" }, "print a new preshared key", false, false, 0, 0 },
	{ "version", version_main, { "" }, "print vpnd's version (also: vpnd --version)",
	  false, false, 0, 0 },
	{ "help", help_main, { "[COMMAND]" }, "this text, or COMMAND's usage (also: vpnd "
	  "COMMAND --help)", false, false, 0, 1 },
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find_command(const char *name)
{
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (!strcmp(name, subcommands[i].name))
			return &subcommands[i];
	return NULL;
}

/* "Usage: vpnd up ...", one line per form. */
static void command_usage(FILE *f, const struct subcommand *c)
{
	for (int i = 0; i < MAX_FORMS && c->forms[i]; i++)
		fprintf(f, "%s vpnd %s%s%s\n", i ? "      " : "Usage:", c->name,
			c->forms[i][0] ? " " : "", c->forms[i]);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: vpnd [-v|--verbose] COMMAND [ARGS]\n"
		   "       vpnd --version | COMMAND --help\n\nCommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++) {
		for (int j = 0; j < MAX_FORMS && subcommands[i].forms[j]; j++) {
			char left[96];

			snprintf(left, sizeof(left), "%s %s", subcommands[i].name,
				 subcommands[i].forms[j]);
			/* A long synopsis gets its help on the next line. */
			if (j)
				fprintf(f, "  %s\n", left);
			else if (strlen(left) > 34)
				fprintf(f, "  %s\n  %-34s %s\n", left, "", subcommands[i].help);
			else
				fprintf(f, "  %-34s %s\n", left, subcommands[i].help);
		}
	}
	fprintf(f, "\nOptions:\n  %-34s %s\n", "-v, --verbose",
		"debug logging (as VPND_VERBOSE=1; VPND_LOG_LEVEL=error|warning|info|debug)");
	fprintf(f, "  %-34s %s\n", "-h, --help", "usage (after a command: its usage)");
	fprintf(f, "  %-34s %s\n", "--version", "print the version");
	fprintf(f, "\nNAME means %s/NAME.conf (and its NAME.d/ directory of peer files);\n"
		"$VPND_CONFIG_DIR overrides %s.\n", config_dir(), CONFIG_DIR_DEFAULT);
}

static int help_main(int argc, char **argv)
{
	const struct subcommand *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "vpnd: unknown command: '%s'\n", argv[1]);
		return 1;
	}
	command_usage(stdout, c);
	printf("\n%s\n", c->help);
	return 0;
}

static int version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("vpnd %s\n", VPND_VERSION);
	return 0;
}

static int genkey_main(int argc, char **argv)
{
	uint8_t k[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	(void)argc;
	(void)argv;
	if (isatty(STDOUT_FILENO))
		fprintf(stderr, "vpnd: warning: writing a private key to a terminal\n");
	wg_key_generate_private(k);
	wg_key_to_base64(b64, k);
	printf("%s\n", b64);
	wg_secure_wipe(k, sizeof(k));
	wg_secure_wipe(b64, sizeof(b64));
	return 0;
}

static int genpsk_main(int argc, char **argv)
{
	uint8_t k[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	(void)argc;
	(void)argv;
	wg_random_bytes(k, sizeof(k));
	wg_key_to_base64(b64, k);
	printf("%s\n", b64);
	wg_secure_wipe(k, sizeof(k));
	wg_secure_wipe(b64, sizeof(b64));
	return 0;
}

static int pubkey_main(int argc, char **argv)
{
	char line[256];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1];
	size_t n;
	int ret = 1;

	(void)argc;
	(void)argv;
	if (!fgets(line, sizeof(line), stdin))
		goto out;
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (!wg_key_from_base64(priv, line)) {
		/* The text may be a key with one character wrong: never echoed. */
		fprintf(stderr, "vpnd: stdin:1: invalid private key: '(hidden, %zu characters)'\n",
			n);
		goto out;
	}
	wg_key_clamp(priv);
	if (!wg_key_public_from_private(pub, priv))
		goto out;
	wg_key_to_base64(b64, pub);
	printf("%s\n", b64);
	ret = 0;
out:
	wg_secure_wipe(line, sizeof(line));
	wg_secure_wipe(priv, sizeof(priv));
	return ret;
}

static void warn_cb(const char *msg)
{
	fprintf(stderr, "vpnd: %s\n", msg);
}

static void warn_forwarding(const struct config *cfg, const char *ifname)
{
	char msg[512];

	if (forwarding_advice(cfg, ifname, forwarding_read_host(), msg, sizeof(msg)))
		fprintf(stderr, "vpnd: warning: %s\n", msg);
}

/* $VPND_ENDPOINT_RESOLUTION_RETRIES: a count, or "infinity"; default 15
 * (wg's WG_ENDPOINT_RESOLUTION_RETRIES). ~0u is no limit. */
static unsigned resolution_retries(void)
{
	const char *s = getenv("VPND_ENDPOINT_RESOLUTION_RETRIES");
	char *end;
	unsigned long n;

	if (!s || !*s)
		return 15;
	if (!strcmp(s, "infinity"))
		return ~0u;
	n = strtoul(s, &end, 10);
	if (*end || n > 100000) {
		log_warn("VPND_ENDPOINT_RESOLUTION_RETRIES: not a count or 'infinity': '%s'", s);
		return 15;
	}
	return (unsigned)n;
}

/* config_load, again while an Endpoint host name does not resolve (at boot
 * DNS may come after us): waits 1 s, growing by a fifth up to 20 s. */
static enum config_status load_resolving(struct config *cfg, const char *path,
					 const char *ifname, char *err, size_t err_len)
{
	unsigned retries = resolution_retries();
	double wait_s = 1.0;
	enum config_status st;

	char of[16];

	snprintf(of, sizeof(of), retries == ~0u ? "infinity" : "%u", retries);
	for (unsigned i = 0;; i++) {
		struct timespec ts = { (time_t)wait_s, (long)((wait_s - (time_t)wait_s) * 1e9) };

		st = config_load(cfg, path, err, err_len, warn_cb);
		if (st != CONFIG_ERR_UNRESOLVED || i >= retries)
			return st;
		log_warn("%s: %s; retry %u of %s in %.1f s", ifname, err, i + 1, of, wait_s);
		nanosleep(&ts, NULL);
		wait_s = wait_s * 6 / 5 > 20 ? 20 : wait_s * 6 / 5;
	}
}

/* vpnd up [-f] [-v] CONFIG|NAME: 0, or VPND_EXIT_USAGE (said). */
static int parse_up_args(int argc, char **argv, struct daemon_opts *o, const char **name)
{
	*name = NULL;
	o->foreground = getenv("VPND_FOREGROUND") != NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground")) {
			o->foreground = true;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_threshold = LOG_LEVEL_DEBUG;
			setenv("VPND_VERBOSE", "1", 1);	/* the same for what we start */
		} else if (!strcmp(argv[i], "--netns")) {
			/* The interface is moved into that namespace. */
			if (i + 1 >= argc) {
				fprintf(stderr, "vpnd: --netns needs a namespace name\n");
				return VPND_EXIT_USAGE;
			}
			o->netns = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "vpnd: unknown option: '%s'\n", argv[i]);
			return VPND_EXIT_USAGE;
		} else if (*name) {
			fprintf(stderr, "vpnd: unexpected argument: '%s'\n", argv[i]);
			return VPND_EXIT_USAGE;
		} else {
			*name = argv[i];
		}
	}
	return *name ? 0 : VPND_EXIT_USAGE;
}

static int up_main(int argc, char **argv)
{
	struct config cfg = { 0 };
	char path[PATH_MAX], abs_path[PATH_MAX], ifname[IFNAMSIZ], err[1024];
	struct daemon_opts o = { 0 };
	const char *name;
	int ret;

	ret = parse_up_args(argc, argv, &o, &name);
	if (ret)
		return ret;
	ret = 1;
	if (!config_resolve(name, path, sizeof(path), ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	log_debug("%s: reading %s", ifname, path);
	if (load_resolving(&cfg, path, ifname, err, sizeof(err)) != CONFIG_OK) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	warn_forwarding(&cfg, ifname);
	log_debug("%s: %zu peers, %s", ifname, cfg.n_peers,
		  o.foreground ? "in the foreground" : "detaching once up");
	o.ifname = ifname;
	o.cfg = &cfg;
	/* For reloads by the monitor (SIGHUP), which may run elsewhere. */
	o.config_path = realpath(path, abs_path) ? abs_path : path;
	ret = daemon_run(&o);
out:
	config_free(&cfg);
	return ret;
}

static pid_t read_pid(const char *ifname)
{
	char path[PATH_MAX];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s.pid", PID_DIR, ifname);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/* True if pid exists and is not a zombie (a killed monitor stays one
 * until its parent reaps it, and kill(pid, 0) still succeeds on it). */
static bool pid_running(pid_t pid)
{
	char path[64], state = 'Z';
	FILE *f;

	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	/* "pid (comm) state ...": comm may hold spaces and parentheses, the
	 * state follows the last ')'. */
	for (int c, last = 0; (c = fgetc(f)) != EOF && c != '\n';) {
		if (c == ')')
			last = 1;
		else if (last == 1 && c != ' ')
			state = (char)c, last = 2;
	}
	fclose(f);
	return state != 'Z';
}

/* A daemon killed unasked (kill -9) leaves its pid file and UAPI socket.
 * Stale only once that pid is gone and nothing answers on the socket: a
 * daemon still starting (pid alive, socket not yet listening) keeps them. */
static void remove_stale_files(const char *ifname, pid_t pid)
{
	char path[PATH_MAX];

	if (pid_running(pid) || uapi_alive(ifname))
		return;
	snprintf(path, sizeof(path), "%s/%s.pid", PID_DIR, ifname);
	unlink(path);
	uapi_unlink(ifname);
}

/* The daemon is gone (crashed, killed): what it left of a full tunnel
 * (a kill switch, or everything if the monitor itself died), its DNS and
 * its stale files are removed. */
static int down_leftovers(const char *ifname, pid_t pid)
{
	char err[512] = "";
	bool dns = dns_undo(ifname);

	remove_stale_files(ifname, pid);
	switch (fulltunnel_undo(ifname, false, err, sizeof(err))) {
	case FULLTUNNEL_UNDONE:
		fprintf(stderr, "vpnd: %s: daemon not running; removed its full-tunnel rules "
			"(kill switch)%s\n", ifname, dns ? " and DNS" : "");
		return 0;
	case FULLTUNNEL_FAILED:
		fprintf(stderr, "vpnd: %s: %s\n", ifname, err);
		return 1;
	default:
		if (dns) {
			fprintf(stderr, "vpnd: %s: daemon not running; removed its DNS\n", ifname);
			return 0;
		}
		fprintf(stderr, "vpnd: %s is not up\n", ifname);
		return 1;
	}
}

static int down_main(int argc, char **argv)
{
	char path[PATH_MAX], ifname[IFNAMSIZ], err[256];
	pid_t pid;

	(void)argc;	/* main checked: one NAME */
	if (!config_resolve(argv[1], path, sizeof(path), ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: %s\n", err);
		return 1;
	}
	pid = read_pid(ifname);
	if (pid <= 0 || kill(pid, 0) < 0 || !uapi_alive(ifname))
		return down_leftovers(ifname, pid);
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "vpnd: %s: cannot stop pid %d: %s\n", ifname, (int)pid,
			strerror(errno));
		return 1;
	}
	/* Wait (up to 10 s) for the daemon to finish its teardown. */
	for (int i = 0; i < 1000 && kill(pid, 0) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (kill(pid, 0) == 0) {
		fprintf(stderr, "vpnd: %s: daemon (pid %d) did not stop\n", ifname, (int)pid);
		return 1;
	}
	return 0;
}

static int daemon_main(int argc, char **argv)
{
	struct daemon_opts o = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground")) {
			o.foreground = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vpnd: unknown option: '%s'\n", argv[i]);
			return VPND_EXIT_USAGE;
		} else if (!o.ifname) {
			o.ifname = argv[i];
		} else {
			fprintf(stderr, "vpnd: unexpected argument: '%s'\n", argv[i]);
			return VPND_EXIT_USAGE;
		}
	}
	if (!o.ifname)
		return VPND_EXIT_USAGE;
	if (!ifname_valid(o.ifname)) {
		char shown[48];

		ifname_quote(shown, sizeof(shown), o.ifname);
		fprintf(stderr, "vpnd: invalid interface name '%s': 1 to %d of "
			"a-z A-Z 0-9 _ = + . -\n", shown, IFNAME_MAX_LEN);
		return 1;
	}
	return daemon_run(&o);
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* The checks main makes for a command that does not parse its options. */
static bool plain_args_ok(const struct subcommand *c, int argc, char **argv)
{
	int n = argc - 1;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "vpnd: unknown option: '%s'\n", argv[i]);
			return false;
		}
	}
	if (n < c->min_args || (c->max_args != ANY && n > c->max_args)) {
		fprintf(stderr, "vpnd: %s takes %s\n", c->name, c->max_args == 0 ? "no arguments" :
			c->min_args == c->max_args ? "exactly one argument" : "at most one argument");
		return false;
	}
	return true;
}

/* CAP_NET_ADMIN in the effective set: root, or given to the binary. */
static bool have_net_admin(void)
{
	capng_get_caps_process();
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN);
}

static int run_command(const struct subcommand *c, int argc, char **argv)
{
	int ret;

	if (wants_help(argc, argv)) {
		command_usage(stdout, c);
		return 0;
	}
	if (!c->own_options && !plain_args_ok(c, argc, argv)) {
		command_usage(stderr, c);
		return 1;
	}
	if (c->needs_root && !have_net_admin()) {
		fprintf(stderr, "vpnd: %s: must be run as root (CAP_NET_ADMIN)\n", c->name);
		return 1;
	}
	ret = c->main(argc, argv);
	if (ret != VPND_EXIT_USAGE)
		return ret;
	command_usage(stderr, c);
	return 1;
}

int main(int argc, char **argv)
{
	const char *prog = basename(argv[0]);
	const struct subcommand *c;

	if (!wg_crypto_init()) {
		fprintf(stderr, "vpnd: cannot initialise libsodium\n");
		return 1;
	}
	log_init();	/* VPND_LOG_LEVEL, VPND_VERBOSE, the journal */
	/* Installed as a wireguard-go stand-in (vpnd-daemon), it takes
	 * wireguard-go's arguments directly: [-f] IFNAME. */
	if (strstr(prog, "daemon") && argc >= 2 && strcmp(argv[1], "daemon"))
		return run_command(find_command("daemon"), argc, argv);
	/* Global options, before the command. */
	while (argc >= 2 && (!strcmp(argv[1], "--verbose") || !strcmp(argv[1], "-v"))) {
		log_threshold = LOG_LEVEL_DEBUG;
		setenv("VPND_VERBOSE", "1", 1);	/* the same for what we start */
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help_main(0, NULL);
	if (!strcmp(argv[1], "--version"))
		return version_main(0, NULL);
	c = find_command(argv[1]);
	if (c)
		return run_command(c, argc - 1, argv + 1);
	fprintf(stderr, "vpnd: unknown %s: '%s'\n", argv[1][0] == '-' ? "option" : "command",
		argv[1]);
	usage(stderr);
	return 1;
}
