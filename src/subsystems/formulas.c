/*  formulas.c - stage-2 formulas: derived contributions computed as linear combinations of
    the capped stage-1 Primary values (`hp_max: {terms: {vitality: 10, strength: 2}}`, with
    an optional constant, bucket and priority). Loading resolves every dimension name to its
    registry id and sorts each formula's terms by dimension, so the sum's order never
    depends on the file's; contribute only reads Primary values and adds.
*/
#include <stdio.h>
#include <stdlib.h>

#include "subsystems/compiled.h"

static int formula_contribute(void *state, const ac_actor_t *a, ac_output_t *out, ac_error_t *err)
{
    (void)a;
    const formulas_t *fs = state;
    for (size_t i = 0; i < fs->n; i++) {
        const formula_t *f = &fs->f[i];
        double v = f->constant;
        for (uint32_t k = f->first; k < f->first + f->count; k++) {
            double p;
            ac_output_primary(out, fs->terms[k].dim, &p);
            v += fs->terms[k].coef * p;
        }
        int rc = ac_output_add_id(out, AC_DERIVED, f->dim, f->bucket, v, f->priority, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- loading ---- */

static int cmp_terms(const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    return x->dim < y->dim ? -1 : x->dim > y->dim;
}

int ac_sub_load_formulas(ld_t *l, item_t *it, yaml_node_t *n, int32_t prio)
{
    formulas_t *fs = &it->formulas;
    int rc = ac_yaml_expect(l->d, n, YAML_MAPPING_NODE, "formulas", l->err);
    if (rc)
        return rc;
    size_t nf = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start), nt = 0;
    fs->f = calloc(nf ? nf : 1, sizeof *fs->f);
    fs->terms = calloc(1, sizeof *fs->terms);
    if (!fs->f || !fs->terms) /* both freed by ac_sub_formulas_fini */
        return ac_error_set(l->err, AC_ENOMEM, "formulas", "out of memory");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ac_yamldoc_node(l->d, p->key), *v = ac_yamldoc_node(l->d, p->value);
        char path[AC_ERROR_PATH_MAX], sub[AC_ERROR_PATH_MAX];
        snprintf(path, sizeof path, "formulas.%.64s",
                 k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?");
        formula_t *f = &fs->f[fs->n];
        f->priority = prio;
        f->first = (uint32_t)nt;
        if ((rc = ac_sub_dim_of(l, k, path, &f->dim)) ||
            (rc = ac_yaml_expect(l->d, v, YAML_MAPPING_NODE, path, l->err)))
            return rc;
        bool have_terms = false;
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
             q++) {
            yaml_node_t *fk = ac_yamldoc_node(l->d, q->key), *fv = ac_yamldoc_node(l->d, q->value);
            snprintf(sub, sizeof sub, "%s.%.32s", path,
                     fk->type == YAML_SCALAR_NODE ? (const char *)fk->data.scalar.value : "?");
            if (ac_yaml_is(fk, "terms")) {
                if ((rc = ac_yaml_expect(l->d, fv, YAML_MAPPING_NODE, sub, l->err)))
                    return rc;
                for (yaml_node_pair_t *t = fv->data.mapping.pairs.start;
                     t < fv->data.mapping.pairs.top; t++) {
                    yaml_node_t *tk = ac_yamldoc_node(l->d, t->key),
                                *tv = ac_yamldoc_node(l->d, t->value);
                    char tpath[AC_ERROR_PATH_MAX];
                    snprintf(tpath, sizeof tpath, "%s.%.64s", sub,
                             tk->type == YAML_SCALAR_NODE ? (const char *)tk->data.scalar.value
                                                          : "?");
                    term_t *bigger = realloc(fs->terms, (nt + 1) * sizeof *fs->terms);
                    if (!bigger) /* fs->terms is still valid and freed by ac_sub_formulas_fini */
                        return ac_error_set(l->err, AC_ENOMEM, tpath, "out of memory");
                    fs->terms = bigger;
                    if ((rc = ac_sub_dim_of(l, tk, tpath, &fs->terms[nt].dim)) ||
                        (rc = ac_yaml_double(l->d, tv, tpath, &fs->terms[nt].coef, l->err)))
                        return rc;
                    nt++;
                }
                have_terms = true;
            } else if (ac_yaml_is(fk, "constant")) {
                rc = ac_yaml_double(l->d, fv, sub, &f->constant, l->err);
            } else if (ac_yaml_is(fk, "bucket")) {
                int b = ac_sub_bucket_of(fv);
                rc = b < 0 ? ac_yaml_fail(l->d, fv, sub, l->err, "unknown bucket") : 0;
                f->bucket = (uint8_t)(b < 0 ? 0 : b);
            } else if (ac_yaml_is(fk, "priority")) {
                long long pr;
                rc = ac_yaml_int(l->d, fv, sub, &pr, l->err);
                f->priority = (int32_t)pr;
            } else {
                rc = ac_yaml_fail(l->d, fk, path, l->err,
                                  "unknown field (expected terms, constant, bucket, priority)");
            }
            if (rc)
                return rc;
        }
        if (!have_terms)
            return ac_yaml_fail(l->d, v, path, l->err, "a formula needs terms");
        f->count = (uint32_t)nt - f->first;
        /* Terms in dimension order: the sum's order never depends on the file's. */
        qsort(fs->terms + f->first, f->count, sizeof *fs->terms, cmp_terms);
        fs->n++;
    }
    it->sub.contribute = formula_contribute;
    it->sub.state = fs;
    it->sub.stage = 2;
    return 0;
}

void ac_sub_formulas_fini(formulas_t *fs)
{
    free(fs->f);
    free(fs->terms);
}
