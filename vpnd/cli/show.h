/* vpnd show: like wg show, from the daemon's UAPI answers. */
#ifndef VPND_SHOW_H
#define VPND_SHOW_H

int show_main(int argc, char **argv);

#endif
