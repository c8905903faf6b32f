/*  numfmt.c - see numfmt.h. Tries 15, 16 then 17 significant digits: the first that
    parses back to the same bits is the shortest round-trip form %g can give. */
#include "numfmt.h"

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
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, AC_NUMFMT_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return (size_t)n;
}
