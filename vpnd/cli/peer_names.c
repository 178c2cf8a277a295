/* See peer_names.h. */
#include "vpnd/cli/peer_names.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vpnd/control/config.h"
#include "vpnd/control/reload_apply.h"

struct scan {
	struct metrics_interface *m;
	char name[METRICS_NAME_LEN];	/* the current [Peer]'s name so far */
	char key[KEY_B64_LEN + 1];	/* its PublicKey, "" until seen */
	bool in_peer;
};

/* The end of a [Peer] section: its name goes to the peer with its key. */
static void end_peer(struct scan *s)
{
	if (s->in_peer && s->key[0] && s->name[0]) {
		for (size_t i = 0; i < s->m->n_peers; i++)
			if (!strcmp(s->m->peers[i].public_key, s->key))
				snprintf(s->m->peers[i].name, sizeof(s->m->peers[i].name), "%s",
					 s->name);
	}
	s->in_peer = false;
	s->key[0] = '\0';
}

/* "KEY = VALUE" (any case, spaces around '='): VALUE, trimmed; else NULL. */
static char *value_of(char *line, const char *key)
{
	size_t n = strlen(key), e;

	if (strncasecmp(line, key, n))
		return NULL;
	line += n;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line++ != '=')
		return NULL;
	while (*line == ' ' || *line == '\t')
		line++;
	e = strcspn(line, "\r\n");
	while (e && isspace((unsigned char)line[e - 1]))
		e--;
	line[e] = '\0';
	return line;
}

static void scan_line(struct scan *s, char *line, const char *file_name)
{
	char *v;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '[') {
		end_peer(s);
		s->in_peer = !strncasecmp(line, "[Peer]", 6);
		snprintf(s->name, sizeof(s->name), "%s", file_name);
	} else if (*line == '#' && s->in_peer) {
		line++;
		while (*line == ' ' || *line == '\t')
			line++;
		if ((v = value_of(line, "Name")) && *v)
			snprintf(s->name, sizeof(s->name), "%s", v);
	} else if (s->in_peer && (v = value_of(line, "PublicKey"))) {
		snprintf(s->key, sizeof(s->key), "%s", v);
	}
}

/* file_name: the peer name a NAME.d/ file gives, "" for NAME.conf. The
 * main file holds the private key: each line is wiped after use. */
static void scan_file(struct scan *s, const char *path, const char *file_name)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return;
	s->in_peer = false;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *l = line;

		if (!strncmp(l, "\xEF\xBB\xBF", 3))
			l += 3;
		scan_line(s, l, file_name);
		explicit_bzero(line, (size_t)n);
	}
	end_peer(s);
	if (line)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
}

void peer_names_fill(struct metrics_interface *m, const char *ifname)
{
	char conf[PATH_MAX], dir[PATH_MAX], path[PATH_MAX * 2], name[METRICS_NAME_LEN];
	char resolved_if[IFNAMSIZ], err[256];
	struct scan s = { .m = m };
	struct dirent **ents = NULL;
	int n;

	if (strchr(ifname, '/') ||
	    !config_resolve(ifname, conf, sizeof(conf), resolved_if, err, sizeof(err)))
		return;
	scan_file(&s, conf, "");
	snprintf(dir, sizeof(dir), "%.*s.d", (int)(strlen(conf) - strlen(".conf")), conf);
	n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);

		if (ents[i]->d_name[0] != '.' && l > 5 && !strcmp(ents[i]->d_name + l - 5, ".conf")) {
			snprintf(name, sizeof(name), "%.*s", (int)(l - 5), ents[i]->d_name);
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			scan_file(&s, path, name);
		}
		free(ents[i]);
	}
	free(ents);
}
