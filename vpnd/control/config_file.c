/* Reading config files: the main NAME.conf and every *.conf of NAME.d/ (one
 * file per peer on a server), sorted by name, into one struct config. File
 * contents may hold keys: every buffer is wiped before it is freed. */
#include "vpnd/control/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpnd/control/config_parser.h"

static void free_secret(char *buf, size_t len)
{
	if (buf) {
		wg_secure_wipe(buf, len);
		free(buf);
	}
}

/* Doubles a buffer that holds key text: by copy and wipe, since realloc
 * would free the old copy with the text still in it. */
static bool grow_secret_buf(char **buf, size_t len, size_t *cap)
{
	size_t new_cap = *cap ? *cap * 2 : 2 * READ_CHUNK;
	char *bigger;

	if (*cap >= FILE_MAX_LEN)
		return false;
	bigger = malloc(new_cap);
	if (!bigger)
		return false;
	if (len)
		memcpy(bigger, *buf, len);
	free_secret(*buf, *cap);
	*buf = bigger;
	*cap = new_cap;
	return true;
}

/* Reads fd to the end into a NUL-terminated buffer (*out, *out_len) that
 * the caller wipes and frees. Sizes are not taken from fstat: the main
 * config may be a pipe. */
static enum config_status read_all(struct parser *p, const char *path, int fd, char **out,
				   size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	enum config_status st = CONFIG_OK;

	for (;;) {
		if (cap - len < READ_CHUNK + 1 && !grow_secret_buf(&buf, len, &cap)) {
			if (cap >= FILE_MAX_LEN) {
				errno = EFBIG;
				st = parser_fail_io(p, path, "cannot read");
			} else {
				st = parser_fail_nomem(p);
			}
			goto out;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st = parser_fail_io(p, path, "cannot read");
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free_secret(buf, cap);
	return st;
}

/* A peer file refused before a byte of it is read (its text is never
 * quoted: it may be someone else's file). */
static __attribute__((format(printf, 3, 4)))
enum config_status fail_peer_file(struct parser *p, const char *path, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->err && p->err_len)
		snprintf(p->err, p->err_len, "%s: refused: %s", path, why);
	return CONFIG_ERR_IO;
}

/* As OpenSSH for its keys: a file that becomes peers of a root daemon is
 * trusted only if root or the config's owner wrote it and nobody else can. */
static enum config_status check_peer_file(struct parser *p, const char *path,
					  const struct stat *sb, uid_t owner)
{
	if (sb->st_uid != 0 && sb->st_uid != owner)
		return fail_peer_file(p, path, "owned by uid %u, not by root or the config's "
				      "owner (uid %u)", (unsigned)sb->st_uid, (unsigned)owner);
	if (sb->st_mode & 022)
		return fail_peer_file(p, path, "writable by group or others (mode %04o)",
				      (unsigned)(sb->st_mode & 07777));
	return CONFIG_OK;
}

/* Opens and reads a config file; see read_all for the buffer; *sb is its
 * stat. A peer file (peer_owner not NULL: the uid besides root that may own
 * it) is opened without following a symbolic link, non-blocking, and
 * silently skipped (*out stays NULL) unless it is a regular file, so a FIFO
 * or a directory named *.conf neither blocks nor fails the load. */
static enum config_status read_file(struct parser *p, const char *path, const uid_t *peer_owner,
				    char **out, size_t *out_len, struct stat *sb)
{
	int fd;
	enum config_status st = CONFIG_OK;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | (peer_owner ? O_NONBLOCK | O_NOFOLLOW : 0));
	if (fd < 0 && peer_owner && errno == ELOOP) {
		st = fail_peer_file(p, path, "a symbolic link (peer files are not followed)");
		goto out;
	}
	if (fd < 0) {
		st = parser_fail_io(p, path, "cannot open");
		goto out;
	}
	if (fstat(fd, sb) < 0) {
		st = parser_fail_io(p, path, "cannot stat");
		goto out;
	}
	if (peer_owner && !S_ISREG(sb->st_mode))
		goto out;
	if (peer_owner && (st = check_peer_file(p, path, sb, *peer_owner)) != CONFIG_OK)
		goto out;
	st = read_all(p, path, fd, out, out_len);
out:
	if (fd >= 0)
		close(fd);
	return st;
}

/* "/etc/vpnd/wg0.conf" -> "/etc/vpnd/wg0.d". */
static char *peer_dir_path(const char *path)
{
	size_t len = strlen(path);
	char *dir;

	if (len >= 5 && !strcmp(path + len - 5, ".conf"))
		len -= 5;
	dir = malloc(len + 3);
	if (dir) {
		memcpy(dir, path, len);
		memcpy(dir + len, ".d", 3);
	}
	return dir;
}

/* Names a shell glob "*.conf" would match: hidden files (editor leftovers)
 * are not, and neither is a bare ".conf". */
static bool is_conf_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".conf");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum config_status load_peer_file(struct parser *p, const char *dir, const char *name,
					 uid_t owner)
{
	char *path = NULL, *text = NULL;
	size_t len = 0;
	struct stat sb;
	enum config_status st;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		path = NULL;
		st = parser_fail_nomem(p);
		goto out;
	}
	st = read_file(p, path, &owner, &text, &len, &sb);
	if (st == CONFIG_OK && text)
		st = parser_parse_file(p, path, text, len, true);
	/* Peers copied the name; messages are already formatted. */
	p->file = NULL;
out:
	free_secret(text, len);
	free(path);
	return st;
}

/* Every *.conf in NAME.d, sorted by name (byte order, like LC_ALL=C glob).
 * A missing directory just means no extra peers. */
static enum config_status load_peer_dir(struct parser *p, const char *path, uid_t owner)
{
	char *dir, **names = NULL;
	size_t n = 0, i;
	DIR *d = NULL;
	struct dirent *de;
	enum config_status st = CONFIG_OK;

	dir = peer_dir_path(path);
	if (!dir) {
		st = parser_fail_nomem(p);
		goto out;
	}
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			st = parser_fail_io(p, dir, "cannot open directory");
		goto out;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (!is_conf_name(de->d_name))
			continue;
		if (!parser_grow(&names, n, sizeof(*names), false) ||
		    !(names[n] = strdup(de->d_name))) {
			st = parser_fail_nomem(p);
			goto out;
		}
		n++;
	}
	if (errno) {
		st = parser_fail_io(p, dir, "cannot read directory");
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && st == CONFIG_OK; i++)
		st = load_peer_file(p, dir, names[i], owner);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d)
		closedir(d);
	free(dir);
	return st;
}

enum config_status config_load(struct config *cfg, const char *path, char *err, size_t err_len,
			       void (*warn_fn)(const char *msg))
{
	struct parser p;
	char *text = NULL;
	size_t len = 0;
	struct stat sb = { 0 };
	enum config_status st;

	parser_start(&p, cfg, err, err_len, warn_fn);
	st = read_file(&p, path, NULL, &text, &len, &sb);
	if (st != CONFIG_OK)
		goto out;
	st = parser_parse_main(&p, path, text, len);
	if (st != CONFIG_OK)
		goto out;
	/* parse_main guarantees a PrivateKey in this file. */
	if (sb.st_mode & 077)
		parser_warning(&p, "%s: warning: file holding a private key is readable by group or others",
			path);
	st = load_peer_dir(&p, path, sb.st_uid);
out:
	free_secret(text, len);
	return parser_finish(&p, st);
}
