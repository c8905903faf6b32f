/*  h_report.c - figures, the human table, the JSON result file, --compare and the sweep
    chart of actorcore-bench (harness.h). */
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"

#define MAX_FIGURES 1024
#define MAX_POINTS 256
/* --compare flags a change only beyond the two files' spreads added, and never one under
   this share (run-to-run drift on a busy 2-core machine). */
#define NOISE_FLOOR 0.05

static hb_figure_t s_fig[MAX_FIGURES];
static int s_n_fig, s_tabled;
static json_t *s_settings;

typedef struct {
    char name[96];
    double asked, reached, p50, p99, p999, max;
} point_t;
static point_t s_points[MAX_POINTS];
static int s_n_points;

const hb_figure_t *hb_figure(const char *name, const char *unit, bool higher_better,
                             const double *v, int n)
{
    if (s_n_fig == MAX_FIGURES || n < 1 || n > HB_MAX_RUNS)
        hb_fail("too many figures or runs");
    hb_figure_t *f = &s_fig[s_n_fig++];
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->unit, sizeof f->unit, "%s", unit);
    f->higher_better = higher_better;
    f->n = n;
    memcpy(f->v, v, (size_t)n * sizeof *v);
    double s[HB_MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *v);
    f->median = hb_median(s, n);
    f->min = s[0];
    f->max = s[n - 1];
    return f;
}

const hb_figure_t *hb_find(const char *name)
{
    for (int i = s_n_fig - 1; i >= 0; i--)
        if (strcmp(s_fig[i].name, name) == 0)
            return &s_fig[i];
    return NULL;
}

void hb_setting(const char *key, json_t *value)
{
    if (!s_settings)
        s_settings = json_object();
    json_object_set_new(s_settings, key, value);
}

void hb_sweep_point(const char *name, double asked, double reached, double p50, double p99,
                    double p999, double max)
{
    if (s_n_points == MAX_POINTS)
        return;
    point_t *p = &s_points[s_n_points++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->asked = asked;
    p->reached = reached;
    p->p50 = p50;
    p->p99 = p99;
    p->p999 = p999;
    p->max = max;
}

/* A number for the table: no decimals from 1000 up, else 3 significant digits. */
static void fmt(char *buf, size_t n, double v)
{
    if (fabs(v) >= 1000 || v == 0)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.3g", v);
}

void hb_table(const char *title)
{
    if (s_tabled == s_n_fig)
        return;
    printf("\n%s\n", title);
    printf("  %-58s %12s %25s  %s\n", "figure", "median", "[min - max]", "unit");
    for (int i = s_tabled; i < s_n_fig; i++) {
        const hb_figure_t *f = &s_fig[i];
        char med[32], lo[32], hi[32], range[72];
        fmt(med, sizeof med, f->median);
        fmt(lo, sizeof lo, f->min);
        fmt(hi, sizeof hi, f->max);
        snprintf(range, sizeof range, "[%s - %s]", lo, hi);
        printf("  %-58s %12s %25s  %s\n", f->name, med, range, f->unit);
    }
    s_tabled = s_n_fig;
    fflush(stdout);
}

/* The first line a command prints, or "" (trailing newline removed). */
static void command_line(const char *cmd, char *out, size_t n)
{
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (!fgets(out, (int)n, p))
        out[0] = '\0';
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
}

/* The value of the first line of file that starts with key, after its ':' ("" if none). */
static void file_field(const char *path, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) {
            const char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                snprintf(out, n, "%s", c);
                out[strcspn(out, "\n")] = '\0';
            }
            break;
        }
    if (f)
        fclose(f);
}

static json_t *machine(void)
{
    struct utsname u;
    uname(&u);
    char model[256], mem[64];
    file_field("/proc/cpuinfo", "model name", model, sizeof model);
    file_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:f}", "hostname", u.nodename, "kernel",
                     u.release, "arch", u.machine, "os", u.sysname, "cpus",
                     (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "cpu_model", model, "memory", mem,
                     "loadavg_1min_at_end", load[0]);
}

static json_t *versions(void)
{
    int maj, min, pat;
    zmq_version(&maj, &min, &pat);
    char zmq[32], czmq[32];
    snprintf(zmq, sizeof zmq, "%d.%d.%d", maj, min, pat);
    snprintf(czmq, sizeof czmq, "%d.%d.%d", CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR,
             CZMQ_VERSION_PATCH);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "actorcore", AC_VERSION, "libzmq", zmq,
                     "czmq", czmq, "msgpack", msgpack_version(), "jansson", JANSSON_VERSION,
                     "sqlite", sqlite3_libversion(), "compiler", __VERSION__);
}

static json_t *git(void)
{
    char commit[128], dirty[16];
    command_line("git -C '" AC_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", commit, sizeof commit);
    command_line("git -C '" AC_SOURCE_DIR "' status --porcelain --untracked-files=no 2>/dev/null"
                 " | head -1 | wc -l",
                 dirty, sizeof dirty);
    return json_pack("{s:s, s:b}", "commit", commit[0] ? commit : AC_GIT_COMMIT, "dirty",
                     atoi(dirty) > 0);
}

const char *hb_write_results(const hb_opts_t *o, int argc, char **argv)
{
    static char path[1024];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if (o->out) {
        snprintf(path, sizeof path, "%s", o->out);
        /* Make the folders the file goes in. */
        for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            mkdir(path, 0755);
            *slash = '/';
        }
    } else {
        mkdir(o->results_dir, 0755);
        snprintf(path, sizeof path, "%s/%s.json", o->results_dir, stamp);
        for (int i = 2; access(path, F_OK) == 0; i++)
            snprintf(path, sizeof path, "%s/%s-%d.json", o->results_dir, stamp, i);
    }
    json_t *cmd = json_array();
    for (int i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    json_t *figs = json_array();
    for (int i = 0; i < s_n_fig; i++) {
        const hb_figure_t *f = &s_fig[i];
        json_t *runs = json_array();
        for (int k = 0; k < f->n; k++)
            json_array_append_new(runs, json_real(f->v[k]));
        json_array_append_new(
            figs, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:o}", "name", f->name, "unit", f->unit,
                            "better", f->higher_better ? "higher" : "lower", "median", f->median,
                            "min", f->min, "max", f->max, "runs", runs));
    }
    json_t *sweep = json_array();
    for (int i = 0; i < s_n_points; i++) {
        const point_t *p = &s_points[i];
        json_array_append_new(sweep, json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "series",
                                               p->name, "asked_per_s", p->asked, "reached_per_s",
                                               p->reached, "p50_us", p->p50, "p99_us", p->p99,
                                               "p999_us", p->p999, "max_us", p->max));
    }
    char iso[32];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *root = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "harness", "actorcore-bench", "time", iso,
        "command", cmd, "machine", machine(), "versions", versions(), "git", git(), "settings",
        s_settings ? json_incref(s_settings) : json_object(), "figures", figs, "sweep", sweep);
    if (!root || json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) != 0)
        hb_fail("cannot write the result file %s: %s", path, strerror(errno));
    json_decref(root);
    return path;
}

/* Figures whose every run is an extreme (the largest latency, p99.9 of a few thousand
   replies) vary too much between runs to judge: shown, never flagged. */
static bool judged(const char *name)
{
    size_t n = strlen(name);
    return !(n >= 4 && strcmp(name + n - 4, "/max") == 0) &&
           !(n >= 6 && strcmp(name + n - 6, "/p99.9") == 0);
}

int hb_load_figures(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *figs = root ? json_object_get(root, "figures") : NULL;
    if (!json_is_array(figs)) {
        fprintf(stderr, "actorcore-bench: %s: %s\n", path, root ? "no figures" : jerr.text);
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *f;
    json_array_foreach(figs, i, f)
    {
        json_t *runs = json_object_get(f, "runs");
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *unit = json_string_value(json_object_get(f, "unit"));
        const char *better = json_string_value(json_object_get(f, "better"));
        double v[HB_MAX_RUNS];
        int n = 0;
        size_t k;
        json_t *r;
        json_array_foreach(runs, k, r) if (n < HB_MAX_RUNS) v[n++] = json_number_value(r);
        if (!name || !unit || !better || n < 1) {
            fprintf(stderr, "actorcore-bench: %s: figure %zu is incomplete\n", path, i);
            json_decref(root);
            return -1;
        }
        hb_figure(name, unit, strcmp(better, "higher") == 0, v, n);
    }
    json_decref(root);
    return 0;
}

int hb_compare(const char *old_path)
{
    json_error_t jerr;
    json_t *old = json_load_file(old_path, 0, &jerr);
    json_t *figs = old ? json_object_get(old, "figures") : NULL;
    if (!json_is_array(figs)) {
        fprintf(stderr, "actorcore-bench: --compare %s: %s\n", old_path,
                old ? "no figures in the file" : jerr.text);
        json_decref(old);
        return -1;
    }
    json_t *og = json_object_get(json_object_get(old, "git"), "commit");
    printf("\nCompared with %s (commit %.12s): a change is flagged beyond the two files' "
           "spreads (max - min) / median added,\nand never under %.0f %%; '/max' and '/p99.9' "
           "are shown, not judged\n",
           old_path, json_is_string(og) ? json_string_value(og) : "?", NOISE_FLOOR * 100);
    printf("  %-58s %12s %12s %8s %7s  %s\n", "figure", "old", "new", "change", "spread",
           "verdict");
    int regressions = 0, compared = 0;
    for (int i = 0; i < s_n_fig; i++) {
        const hb_figure_t *f = &s_fig[i];
        size_t k;
        json_t *of;
        json_t *match = NULL;
        json_array_foreach(figs, k, of)
        {
            const char *name = json_string_value(json_object_get(of, "name"));
            if (name && strcmp(name, f->name) == 0)
                match = of;
        }
        if (!match)
            continue;
        double om = json_number_value(json_object_get(match, "median"));
        double olo = json_number_value(json_object_get(match, "min"));
        double ohi = json_number_value(json_object_get(match, "max"));
        if (om == 0 || f->median == 0)
            continue;
        compared++;
        double change = (f->median - om) / om;
        /* The two files' spreads added: what the runs of either could explain. */
        double spread = (ohi - olo) / fabs(om) + (f->max - f->min) / fabs(f->median);
        double tol = fmax(spread, NOISE_FLOOR);
        double worse = f->higher_better ? -change : change;
        const char *verdict = "same";
        if (!judged(f->name))
            verdict = "(not judged)";
        else if (worse > tol) {
            verdict = "REGRESSION";
            regressions++;
        } else if (-worse > tol)
            verdict = "better";
        char a[32], b[32];
        fmt(a, sizeof a, om);
        fmt(b, sizeof b, f->median);
        printf("  %-58s %12s %12s %+7.1f%% %6.1f%%  %s\n", f->name, a, b, change * 100,
               spread * 100, verdict);
    }
    printf("  %d figures compared, %d regression%s\n", compared, regressions,
           regressions == 1 ? "" : "s");
    json_decref(old);
    return regressions;
}

void hb_chart(const char *results_path)
{
    if (!s_n_points)
        return;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("  sweep chart: gnuplot not found, no PNG written (Debian: apt-get install "
               "gnuplot-nox); the points are in %s\n",
               results_path);
        return;
    }
    char base[1024], data[1100], script[1100], png[1100];
    snprintf(base, sizeof base, "%s", results_path);
    char *dot = strrchr(base, '.');
    if (dot && strcmp(dot, ".json") == 0)
        *dot = '\0';
    snprintf(data, sizeof data, "%s-sweep.dat", base);
    snprintf(script, sizeof script, "%s-sweep.gp", base);
    snprintf(png, sizeof png, "%s-sweep.png", base);
    FILE *d = fopen(data, "w"), *g = fopen(script, "w");
    if (!d || !g)
        hb_fail("cannot write the chart files next to %s", results_path);
    /* One gnuplot data block per series, separated by two blank lines. */
    int blocks = 0;
    char series[MAX_POINTS][96];
    for (int i = 0; i < s_n_points; i++) {
        if (i == 0 || strcmp(s_points[i].name, s_points[i - 1].name) != 0) {
            if (i)
                fprintf(d, "\n\n");
            snprintf(series[blocks++], sizeof series[0], "%s", s_points[i].name);
        }
        fprintf(d, "%.1f %.1f %.1f %.1f %.1f\n", s_points[i].reached, s_points[i].p50,
                s_points[i].p99, s_points[i].p999, s_points[i].asked);
    }
    fclose(d);
    fprintf(g, "set terminal png size 1000,600\nset output '%s'\n", png);
    fprintf(g, "set title 'actorcore-bench sweep: latency from the intended send time vs "
               "throughput reached'\n");
    fprintf(g, "set xlabel 'replies/s reached'\nset ylabel 'latency (us)'\nset logscale y\n"
               "set grid\nset key top left\n");
    fprintf(g, "plot ");
    for (int b = 0; b < blocks; b++)
        fprintf(g,
                "%s'%s' index %d using 1:2 with linespoints title '%s p50', '%s' index %d using "
                "1:3 with linespoints title '%s p99', '%s' index %d using 1:4 with linespoints "
                "title '%s p99.9'",
                b ? ", " : "", data, b, series[b], data, b, series[b], data, b, series[b]);
    fprintf(g, "\n");
    fclose(g);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    if (system(cmd) == 0)
        printf("  sweep chart: %s\n", png);
    else
        printf("  sweep chart: gnuplot failed on %s\n", script);
}
