/*  numfmt.h - doubles printed in the shortest form that parses back to the same bits.

    SPEC section 9: `0.7`, not `0.69999999999999996`; `132.00000000000003`, not `132`.
*/
#ifndef AC_NUMFMT_H
#define AC_NUMFMT_H

#include <stddef.h>

#define AC_NUMFMT_MAX 32

/* Writes the shortest round-trip decimal of a finite v into buf (>= AC_NUMFMT_MAX bytes)
   and returns its length. Integers within 2^53 print without exponent or fraction. */
size_t ac_numfmt(double v, char *buf);

#endif
