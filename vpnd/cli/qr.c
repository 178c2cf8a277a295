/* Terminal QR codes; see qr.h. */
#include "vpnd/cli/qr.h"

#include <errno.h>
#include <qrencode.h>
#include <string.h>

enum { QUIET_ZONE = 4 };

static bool dark(const QRcode *qr, int x, int y)
{
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;	/* the quiet zone is light */
	return qr->data[y * qr->width + x] & 1;
}

int qr_print(FILE *f, const char *text, bool color, char *err, size_t err_len)
{
	/* Cells by (top light, bottom light): light is drawn, dark is not. */
	static const char *const cell[2][2] = {
		{ " ", "\u2584" },		/* dark/dark, dark/light: lower half */
		{ "\u2580", "\u2588" },		/* light/dark: upper half; light/light: full */
	};
	QRcode *qr;
	int lo, hi;

	errno = 0;
	/* Level L as the WireGuard tools use: the text is long, the screen
	 * is clean. Case-sensitive 8-bit data: keys are base64. */
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (!qr) {
		snprintf(err, err_len, "cannot make a QR code: %s",
			 errno == ERANGE ? "text too long" : strerror(errno ? errno : EINVAL));
		return -1;
	}
	lo = -QUIET_ZONE;
	hi = qr->width + QUIET_ZONE;
	for (int y = lo; y < hi; y += 2) {
		if (color)
			fputs("\033[40;97m", f);
		for (int x = lo; x < hi; x++)
			fputs(cell[!dark(qr, x, y)][!dark(qr, x, y + 1)], f);
		if (color)
			fputs("\033[0m", f);
		fputc('\n', f);
	}
	QRcode_free(qr);
	return 0;
}
