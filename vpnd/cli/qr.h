/* A QR code for a terminal, through libqrencode: two modules per character
 * cell with the UTF-8 half blocks, so a wg-quick config fits a screen and a
 * WireGuard phone app can scan it. */
#ifndef VPND_QR_H
#define VPND_QR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Light modules are drawn in the foreground colour, dark ones left as the
 * background, as `qrencode -t UTF8` does; with color the lines set white on
 * black so the code reads right on light terminals too. A quiet zone of 4
 * modules surrounds it. Returns 0, or -1 with err set (text too long). */
int qr_print(FILE *f, const char *text, bool color, char *err, size_t err_len);

#endif
