/*  numfmt.c - see numfmt.h. Tries 15, 16 then 17 significant digits: the first that
    parses back to the same bits is the shortest round-trip form. */
#include "codec/numfmt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ac_numfmt(double v, char *buf)
{
    if (v == 0) {
        strcpy(buf, signbit(v) ? "-0" : "0");
        return strlen(buf);
    }
    if (v == nearbyint(v) && fabs(v) < 9007199254740992.0) {
        int n = snprintf(buf, AC_NUMFMT_MAX, "%.0f", v);
        return (size_t)n;
    }
    /* A normal double has 15.95 significant digits, so a 15-digit rounding that parses back
       is already the shortest form (%g drops trailing zeros). Subnormals have fewer digits:
       search from one. */
    int n = 0;
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(buf, AC_NUMFMT_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return (size_t)n;
}
