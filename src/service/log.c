/*  log.c - logfmt lines on stderr (log.h). A line is built in a buffer on the stack and
    written with one write(2); a line longer than the buffer is cut, and ends with
    `truncated=true`. The fields' format is walked here, conversion by conversion, so that
    string values can be quoted while every other conversion is written by snprintf.
*/
#include "service/log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static char s_component[32] = "actorcore";
static ac_log_level_t s_level = AC_LOG_INFO;
static const char *const s_names[] = {"debug", "info", "warn", "error"};

void ac_log_setup(const char *component, ac_log_level_t level)
{
    snprintf(s_component, sizeof s_component, "%s", component ? component : "actorcore");
    s_level = level;
}

int ac_log_level_parse(const char *name, ac_log_level_t *level)
{
    for (int i = 0; i <= AC_LOG_ERROR; i++)
        if (name && strcmp(name, s_names[i]) == 0) {
            *level = (ac_log_level_t)i;
            return 0;
        }
    return -1;
}

int ac_log_start(const char *component, const char *level_name, bool verbose)
{
    ac_log_level_t level = AC_LOG_INFO;
    ac_log_setup(component, AC_LOG_INFO);
    if (level_name && ac_log_level_parse(level_name, &level) != 0) {
        ac_log_bad_setting("log_level", "expected debug, info, warn or error, found '%.40s'",
                           level_name);
        return -1;
    }
    ac_log_setup(component, verbose ? AC_LOG_DEBUG : level);
    return 0;
}

bool ac_log_on(ac_log_level_t level)
{
    return level >= s_level;
}

static bool needs_quotes(const char *text, int len)
{
    if (len == 0)
        return true;
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

int ac_log_quote(char *out, int size, const char *text, int len)
{
    if (size <= 0)
        return size;
    int n = 0;
#define PUT(ch)            \
    do {                   \
        if (n + 1 >= size) \
            goto full;     \
        out[n++] = (ch);   \
    } while (0)
    if (!needs_quotes(text, len)) {
        for (int i = 0; i < len; i++)
            PUT(text[i]);
        out[n] = '\0';
        return n;
    }
    PUT('"');
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c == '\t') {
            PUT('\\');
            PUT('t');
        } else if (c < ' ' || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            PUT('\\');
            PUT('x');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
    out[n] = '\0';
    return n;
#undef PUT
full:
    out[size - 1] = '\0';
    return size;
}

/* Appends the fields: literal text as is, %s values quoted, other conversions by
   snprintf with their own spec. Returns the new length (at most size - 1). The specs are
   pieces of the caller's format, which the compiler checked at the ac_log call (its
   format attribute): here they are not literals. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int put_fields(char *buf, int at, int size, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p && at < size - 1;) {
        if (*p != '%') {
            buf[at++] = *p++;
            continue;
        }
        if (p[1] == '%') {
            buf[at++] = '%';
            p += 2;
            continue;
        }
        /* One conversion: %[flags][width][.precision][length]conv */
        char spec[32];
        int sl = 0, width = -1, prec = -1;
        bool star_w = false, star_p = false;
        spec[sl++] = *p++;
        while (*p && strchr("-+ #0", *p) && sl < 8)
            spec[sl++] = *p++;
        if (*p == '*') {
            star_w = true;
            spec[sl++] = *p++;
        } else
            while (*p >= '0' && *p <= '9' && sl < 16)
                spec[sl++] = *p++;
        if (*p == '.') {
            spec[sl++] = *p++;
            if (*p == '*') {
                star_p = true;
                spec[sl++] = *p++;
            } else
                while (*p >= '0' && *p <= '9' && sl < 24)
                    spec[sl++] = *p++;
        }
        char len1 = 0, len2 = 0;
        if (*p && strchr("hljztL", *p)) {
            len1 = *p;
            spec[sl++] = *p++;
            if ((len1 == 'h' || len1 == 'l') && *p == len1) {
                len2 = *p;
                spec[sl++] = *p++;
            }
        }
        char conv = *p ? *p++ : 's';
        spec[sl++] = conv;
        spec[sl] = '\0';
        if (star_w)
            width = va_arg(ap, int);
        if (star_p)
            prec = va_arg(ap, int);
        int room = size - at, w = 0;
        char num[128]; /* a non-string conversion, written first, then quoted if needed */
        char *dst = buf + at;
        if (conv != 's') {
            dst = num;
            room = (int)sizeof num;
        }
        if (conv == 's') {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = (int)strlen(s);
            if (star_p || strchr(spec, '.')) {
                if (!star_p) {
                    const char *dot = strchr(spec, '.');
                    prec = 0;
                    for (const char *d = dot + 1; *d >= '0' && *d <= '9'; d++)
                        prec = prec * 10 + (*d - '0');
                }
                if (prec >= 0 && prec < n)
                    n = (int)strnlen(s, (size_t)prec);
            }
            w = ac_log_quote(buf + at, room, s, n);
        } else {
            /* Width and precision given as '*' were read above; snprintf gets them back. */
#define EMIT(value)                                                           \
    (star_w && star_p ? snprintf(dst, (size_t)room, spec, width, prec, value) \
     : star_w         ? snprintf(dst, (size_t)room, spec, width, value)       \
     : star_p         ? snprintf(dst, (size_t)room, spec, prec, value)        \
                      : snprintf(dst, (size_t)room, spec, value))
            switch (conv) {
            case 'd':
            case 'i':
                if (len1 == 'l' && len2)
                    w = EMIT(va_arg(ap, long long));
                else if (len1 == 'l')
                    w = EMIT(va_arg(ap, long));
                else if (len1 == 'z')
                    w = EMIT(va_arg(ap, ssize_t));
                else if (len1 == 'j')
                    w = EMIT(va_arg(ap, intmax_t));
                else if (len1 == 't')
                    w = EMIT(va_arg(ap, ptrdiff_t));
                else
                    w = EMIT(va_arg(ap, int));
                break;
            case 'u':
            case 'x':
            case 'X':
            case 'o':
                if (len1 == 'l' && len2)
                    w = EMIT(va_arg(ap, unsigned long long));
                else if (len1 == 'l')
                    w = EMIT(va_arg(ap, unsigned long));
                else if (len1 == 'z')
                    w = EMIT(va_arg(ap, size_t));
                else if (len1 == 'j')
                    w = EMIT(va_arg(ap, uintmax_t));
                else if (len1 == 't')
                    w = EMIT(va_arg(ap, ptrdiff_t));
                else
                    w = EMIT(va_arg(ap, unsigned));
                break;
            case 'c':
                w = EMIT(va_arg(ap, int));
                break;
            case 'p':
                w = EMIT(va_arg(ap, void *));
                break;
            default: /* e E f F g G a A */
                if (len1 == 'L')
                    w = EMIT(va_arg(ap, long double));
                else
                    w = EMIT(va_arg(ap, double));
                break;
            }
#undef EMIT
            /* A padded or odd number ("%5d", "%c" of a space) is quoted like a string. */
            int len = w < 0 ? 0 : w >= room ? room - 1 : w;
            room = size - at;
            w = ac_log_quote(buf + at, room, num, len);
        }
        at += w < 0 ? 0 : w >= room ? room - 1 : w;
    }
    buf[at < size ? at : size - 1] = '\0';
    return at < size ? at : size - 1;
}
#pragma GCC diagnostic pop

void ac_log(ac_log_level_t level, const char *event, const char *fields, ...)
{
    if (level < s_level)
        return;
    char line[LINE_MAX_BYTES];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int at = (int)strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    at += snprintf(line + at, sizeof line - (size_t)at,
                   ".%03dZ level=%s component=%s pid=%d event=", (int)(tv.tv_usec / 1000),
                   s_names[level], s_component, (int)getpid());
    at += ac_log_quote(line + at, (int)sizeof line - at, event ? event : "",
                       event ? (int)strlen(event) : 0);
    const int room = (int)sizeof line - 24; /* for " truncated=true\n" */
    if (fields && *fields && at < room - 1) {
        line[at++] = ' ';
        va_list ap;
        va_start(ap, fields);
        at = put_fields(line, at, room, fields, ap);
        va_end(ap);
    }
    if (at >= room - 1)
        at += snprintf(line + at, sizeof line - (size_t)at, " truncated=true");
    line[at++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)at);
    (void)w; /* nowhere to report a failed log write */
}

void ac_log_bad_setting(const char *setting, const char *fmt, ...)
{
    char msg[1024], flag[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(flag, sizeof flag, "--%s", setting ? setting : "");
    for (char *c = flag + 2; *c; c++)
        if (*c == '_' || *c == '.')
            *c = '-';
    /* A message that names its setting already (an ac_error_t's "curve-cert: ...") is
       not prefixed twice. */
    const char *text = msg;
    const char *names[] = {setting ? setting : "", flag + 2, flag};
    for (int i = 0; i < 3 && text == msg; i++) {
        size_t n = strlen(names[i]);
        if (n && strncmp(msg, names[i], n) == 0 && strncmp(msg + n, ": ", 2) == 0)
            text = msg + n + 2;
    }
    ac_log(AC_LOG_ERROR, "start_failed", "code=bad_setting path=%s msg=%s", flag, text);
}
