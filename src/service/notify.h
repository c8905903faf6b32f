/*  notify.h - the service processes' word to systemd (units of Type=notify, config/systemd).

    READY=1 once a process serves (the broker bound, a worker registered), RELOADING=1 then
    READY=1 around a worker's reload, STOPPING=1 when a drain begins. Outside systemd
    (no NOTIFY_SOCKET) sd_notify does nothing; built without libsystemd (AC_HAVE_SYSTEMD
    undefined: -DAC_SYSTEMD=OFF, or a fuzz target) this is a no-op too.
*/
#ifndef AC_NOTIFY_H
#define AC_NOTIFY_H

#ifdef AC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* Sends state (e.g. "READY=1", lines separated by '\n') to the service manager. */
static inline void ac_notify(const char *state)
{
#ifdef AC_HAVE_SYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

#endif
