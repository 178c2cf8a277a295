/* The WireGuard cross-platform UAPI (what wg and wg-quick speak to
 * userspace daemons) on /var/run/wireguard/IFNAME.sock.
 *
 *   get=1\n\n        -> key=value lines, then errno=0\n\n
 *   set=1\n...\n\n   -> errno=N\n\n (0 on success, else a NEGATIVE errno,
 *                       e.g. errno=-22, as wireguard-go and wg(8) have it)
 *
 * uapi_get/uapi_set work on text so tests drive them without sockets.
 * Keys travel as lowercase hex here, base64 in config files. */
#ifndef VPND_UAPI_H
#define VPND_UAPI_H

#include <stddef.h>
#include <stdint.h>

struct device;

#define UAPI_DIR         "/var/run/wireguard"
#define UAPI_MAX_REQUEST (64u << 20)	/* bounded: 10k peers fit easily */
#define UAPI_MAX_ANSWER  (64u << 20)	/* what a client takes from a daemon */
#define UAPI_CLIENT_DEADLINE_NS (10ull * 1000 * 1000 * 1000)	/* whole exchange */
/* uapi_request's deadline and size limit: UAPI_CLIENT_DEADLINE_NS and
 * UAPI_MAX_ANSWER; tests make them small. */
extern uint64_t uapi_client_deadline_ns;
extern size_t uapi_client_max_answer;

/* The answer to get=1 (without the final errno line), malloc'd; NULL on
 * ENOMEM. */
char *uapi_get(struct device *dev);
/* Applies the lines of a set=1 request body (after "set=1\n"). Returns 0 or
 * a positive errno (the socket answers with it negated). Changes made before
 * a bad line stay, as in wireguard-go. */
int uapi_set(struct device *dev, char *body);
/* Extra, vpnd-only: drop counters and daemon-wide statistics (drop_REASON=N,
 * cookie_replies_sent, handshakes_answered, under_load, peer_to_peer, then
 * per peer public_key= and its packet and handshake counters). set=1 also
 * takes vpnd's peer_to_peer=kernel|direct|refuse. */
char *uapi_get_stats(struct device *dev);

/* Socket plumbing. */
int uapi_listen(const char *ifname, char *err, size_t err_len);
void uapi_unlink(const char *ifname);
/* The whole answer to one request (get=1, get=stats or set=1, ending in
 * its errno line), malloc'd, its length in *len; NULL on ENOMEM. The
 * connections around it are uapi_server.h's. */
char *uapi_answer(struct device *dev, const char *req, size_t *len);
/* Client side: connect, send request, read the whole answer (malloc'd),
 * within UAPI_CLIENT_DEADLINE_NS and UAPI_MAX_ANSWER bytes; NULL and err
 * set otherwise. */
char *uapi_request(const char *ifname, const char *request, char *err, size_t err_len);
/* The same on a connected socket fd (not closed); ifname names it in err. */
char *uapi_exchange(int fd, const char *ifname, const char *request, char *err, size_t err_len);
/* Wipes (a get=1 answer holds the private key) and frees an answer. */
void uapi_answer_free(char *answer);
/* True if a daemon answers on IFNAME's socket. */
int uapi_alive(const char *ifname);

#endif
