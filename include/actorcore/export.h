/*  actorcore/export.h - what the shared library exports.
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    The library is built with -fvisibility=hidden, so only what is marked AC_API is part of
    its ABI: the functions the public headers declare, nothing internal. tests/check_exports.py
    (ctest check_exports) compares `nm -D` of libactorcore.so with those declarations.
*/
#ifndef ACTORCORE_EXPORT_H
#define ACTORCORE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define AC_API __attribute__((visibility("default")))
#else
#define AC_API
#endif

#endif
