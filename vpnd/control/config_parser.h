/* Private to control/config.c (the key table and the line parser) and
 * control/config_file.c (reading NAME.conf and NAME.d/): the parser state
 * they share. Nothing else includes this. */
#ifndef VPND_CONTROL_CONFIG_PARSER_H
#define VPND_CONTROL_CONFIG_PARSER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnd/control/config.h"

enum {
	LINE_MAX_LEN = 4096,		/* characters; longer lines are refused */
	FILE_MAX_LEN = 64 << 20,	/* far beyond any sane peer count */
	READ_CHUNK = 4096,
	MTU_MIN = 576,			/* IPv4 minimum datagram size */
	MTU_MIN_IPV6 = 1280,		/* IPv6 minimum link MTU */
	LONG_LINE_ECHO = 24,		/* characters of a long line quoted */
	WHAT_MAX = 128,
	MSG_MAX = PATH_MAX + LINE_MAX_LEN + 256,
};

enum section {
	SECTION_NONE,
	SECTION_INTERFACE,
	SECTION_PEER,
};

struct parser {
	struct config *cfg;
	char *err;
	size_t err_len;
	void (*warn_fn)(const char *msg);
	const char *file;	/* file being parsed, for messages */
	int line;
	bool peers_only;	/* NAME.d files may hold [Peer] sections only */
	enum section section;
	uint32_t seen;		/* once-only keys seen in this section, by table index */
	bool seen_interface;
	bool peer_has_key;
	int *key_lines;		/* per peer, line of its PublicKey (duplicate messages) */
	int mtu_line;		/* 0 unless MTU was set */
};

/* Errors set p->err and return the status to hand back. */
enum config_status parser_fail_io(struct parser *p, const char *path, const char *what);
enum config_status parser_fail_nomem(struct parser *p);
__attribute__((format(printf, 2, 3)))
void parser_warning(struct parser *p, const char *fmt, ...);
/* Grows *arrp (n elements of elem bytes) by one; secret: copy and wipe. */
bool parser_grow(void *arrp, size_t n, size_t elem, bool secret);
/* The file with [Interface], then one NAME.d file ([Peer] only). */
enum config_status parser_parse_main(struct parser *p, const char *name, const char *text,
				     size_t len);
enum config_status parser_parse_file(struct parser *p, const char *name, const char *text,
				     size_t len, bool peers_only);
void parser_start(struct parser *p, struct config *cfg, char *err, size_t err_len,
		  void (*warn_fn)(const char *msg));
/* Final checks (duplicate keys); on error the config is freed. */
enum config_status parser_finish(struct parser *p, enum config_status st);

#endif
