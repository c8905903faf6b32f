/*  registry_impl.h - the registry's layout, shared by the modules of the library. */
#ifndef AC_REGISTRY_IMPL_H
#define AC_REGISTRY_IMPL_H

#include "actorcore/registry.h"
#include "core/symtab.h"

struct ac_registry {
    ac_symtab_t dims;       /* dimension name -> id; ids follow name byte order */
    ac_rule_t *rules;       /* [dims.count] merge rule of each dimension */
    bool has_default;       /* the combiner file has a `default` rule */
    ac_rule_t default_rule; /* rule of unlisted dimensions when has_default */
    ac_symtab_t layers;     /* layer name -> position in `order` */
    ac_policy_t policy;     /* across-layer policy */
    uint64_t generation;    /* hash of the canonical content */
};

#endif
