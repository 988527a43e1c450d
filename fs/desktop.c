#include "desktop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "escape.h"
#include "log.h"

#define QUEUE_SIZE 16    /* notifications waiting for the thread */
#define WINDOWS 64       /* vaults whose window is remembered */
#define TEXT_BYTES 1024  /* a summary or a body, escaped, NUL included */
#define CALL_TIMEOUT_USEC (2 * 1000 * 1000)

static const char service[] = "org.freedesktop.Notifications";
static const char object[] = "/org/freedesktop/Notifications";

/* What to tell, as given: the thread escapes it when it composes the
 * text, once it knows whether the server reads markup. */
struct note {
    char vault[256];
    char file[512];   /* NOTE_REFUSED */
    char outcome[64];
    char reason[512];
    unsigned held;    /* NOTE_HELD: refusals a window held back */
};

/* One vault's rate limit: opened when a notification is queued; refusals
 * until it closes are only counted. */
struct window {
    bool used;
    char vault[256];
    struct timespec opened;
    unsigned held;
};

struct desktop {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool started, stopping;
    struct note queue[QUEUE_SIZE]; /* a ring: head, count */
    size_t head, count;
    struct window windows[WINDOWS];
    /* the thread's own */
    sd_bus *bus;
    bool markup;    /* the server reads the body as markup: escape & < > */
    bool told_why;  /* a failure to notify was logged once */
};

/* ---- text -------------------------------------------------------------------- */

struct out {
    char *p;
    size_t left; /* bytes left, the NUL included */
};

static void put(struct out *o, const char *bytes, size_t len)
{
    if (len >= o->left)
        len = 0; /* whole sequences only: never half a character */
    memcpy(o->p, bytes, len);
    o->p += len;
    o->left -= len;
    *o->p = '\0';
}

/* in as every name vultfs shows is shown (escape.h: controls, separators
 * and bidirectional marks spelt out, bytes that are not UTF-8 as \xNN),
 * and with markup & < > as their entities (the server would read tags). */
static void escape(struct out *o, const char *in, bool markup)
{
    char plain[TEXT_BYTES * ESCAPE_MAX_GROWTH];

    escape_text(plain, sizeof(plain), in);
    for (const char *p = plain; *p; p++) {
        if (markup && *p == '&')
            put(o, "&amp;", 5);
        else if (markup && *p == '<')
            put(o, "&lt;", 4);
        else if (markup && *p == '>')
            put(o, "&gt;", 4);
        else if ((unsigned char)*p < 0x80)
            put(o, p, 1);
        else { /* a whole UTF-8 sequence at once: never half a character */
            size_t len = 1;
            while ((unsigned char)p[len] >= 0x80 && ((unsigned char)p[len] & 0xc0) == 0x80)
                len++;
            put(o, p, len);
            p += len - 1;
        }
    }
}

/* Text of a note, pieces escaped or not (ours are plain). */
static void compose(char out[TEXT_BYTES], bool markup, const char *const *pieces,
                    const bool *untrusted, size_t n)
{
    struct out o = {out, TEXT_BYTES};

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (untrusted[i])
            escape(&o, pieces[i], markup);
        else
            put(&o, pieces[i], strlen(pieces[i]));
    }
}

/* ---- the bus (the thread's own) ---------------------------------------------- */

static bool server_reads_markup(sd_bus *bus)
{
    sd_bus_message *reply = NULL;
    const char *cap;
    bool markup = false;

    if (sd_bus_call_method(bus, service, object, service, "GetCapabilities", NULL, &reply, "") < 0)
        return true; /* unknown: escaping is the safe side */
    if (sd_bus_message_enter_container(reply, 'a', "s") > 0) {
        while (sd_bus_message_read(reply, "s", &cap) > 0)
            markup = markup || strcmp(cap, "body-markup") == 0;
        sd_bus_message_exit_container(reply);
    }
    sd_bus_message_unref(reply);
    return markup;
}

/* No session bus at all is the ordinary case off the desktop: say nothing. */
static bool no_bus(int err)
{
    return err == -ENOMEDIUM || err == -ENOENT || err == -ECONNREFUSED;
}

static void tell_once(struct desktop *d, const char *what, int err)
{
    if (d->told_why || no_bus(err))
        return;
    d->told_why = true;
    log_info("desktop notifications: %s: %s", what, strerror(-err));
}

static int connect_bus(struct desktop *d)
{
    int ret;

    if (d->bus)
        return 0;
    ret = sd_bus_open_user(&d->bus);
    if (ret >= 0)
        ret = sd_bus_set_method_call_timeout(d->bus, CALL_TIMEOUT_USEC);
    if (ret < 0) {
        d->bus = sd_bus_flush_close_unref(d->bus);
        tell_once(d, "cannot reach the session bus", ret);
        return ret;
    }
    d->markup = server_reads_markup(d->bus);
    return 0;
}

/* The text a person reads: for a refusal, the file and why; for a
 * window's held-back refusals, how many and of which vault. */
static void compose_note(char summary[TEXT_BYTES], char body[TEXT_BYTES], const struct note *n,
                         bool markup)
{
    char count[32];

    if (!n->held) {
        const char *s[] = {"Not imported: ", n->file};
        static const bool s_untrusted[] = {false, true};
        compose(summary, false, s, s_untrusted, 2);
        const char *b[] = {n->outcome, ": ", n->reason};
        static const bool b_untrusted[] = {false, false, true};
        compose(body, markup, b, b_untrusted, 3);
        return;
    }
    snprintf(count, sizeof(count), "%u", n->held);
    const char *s[] = {"Not imported: ", count, n->held == 1 ? " more file" : " more files"};
    static const bool s_untrusted[] = {false, false, false};
    compose(summary, false, s, s_untrusted, 3);
    const char *b[] = {n->vault[0] ? "of vault \"" : "", n->vault, n->vault[0] ? "\" " : "",
                       "in the last few seconds; the log says why for each"};
    static const bool b_untrusted[] = {false, true, false, false};
    compose(body, markup, b, b_untrusted, 4);
}

/* Notify(app_name, replaces_id, app_icon, summary, body, actions, hints,
 * expire_timeout), as the Desktop Notifications Specification has it. */
static void send_note(struct desktop *d, const struct note *n)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    char summary[TEXT_BYTES], body[TEXT_BYTES];
    int ret = connect_bus(d);

    if (ret < 0)
        return;
    compose_note(summary, body, n, d->markup);
    ret = sd_bus_call_method(d->bus, service, object, service, "Notify", &error, NULL,
                             "susssasa{sv}i", "vultfs", (uint32_t)0, "dialog-warning", summary,
                             body, 0, 1, "urgency", "y", 1, (int32_t)-1);
    if (ret < 0) {
        tell_once(d, error.message ? error.message : "cannot notify", ret);
        /* a connection that broke is made again for the next one */
        if (!sd_bus_is_open(d->bus))
            d->bus = sd_bus_flush_close_unref(d->bus);
    }
    sd_bus_error_free(&error);
}

/* ---- queue and windows (under d->lock) ---------------------------------------- */

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void push(struct desktop *d, const struct note *n)
{
    if (d->count == QUEUE_SIZE)
        return; /* the thread is far behind: the log has every refusal */
    d->queue[(d->head + d->count) % QUEUE_SIZE] = *n;
    d->count++;
    pthread_cond_signal(&d->wake);
}

/* The window of vault: its own, a free one, or the one opened longest ago. */
static struct window *window_for(struct desktop *d, const char *vault)
{
    struct window *pick = NULL;

    for (size_t i = 0; i < WINDOWS; i++)
        if (d->windows[i].used && strcmp(d->windows[i].vault, vault) == 0)
            return &d->windows[i];
    for (size_t i = 0; i < WINDOWS; i++) {
        struct window *w = &d->windows[i];
        if (!w->used)
            return w;
        if (!pick || seconds_between(&w->opened, &pick->opened) > 0)
            pick = w;
    }
    return pick;
}

static void held_note(struct note *n, const struct window *w)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->vault, sizeof(n->vault), "%s", w->vault);
    n->held = w->held;
}

void desktop_refused(struct desktop *d, const char *vault, const char *file, const char *outcome,
                     const char *reason)
{
    struct timespec now;
    struct note n;

    if (!d)
        return;
    /* the path in the mount, without its leading slash: "Alpha/share.vult" */
    while (*file == '/')
        file++;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&d->lock);
    struct window *w = window_for(d, vault);
    if (w->used && strcmp(w->vault, vault) == 0 &&
        seconds_between(&w->opened, &now) < DESKTOP_WINDOW_SECONDS) {
        w->held++;
        pthread_mutex_unlock(&d->lock);
        return;
    }
    if (w->used && w->held) { /* closed, and the thread has not told it yet */
        held_note(&n, w);
        push(d, &n);
    }
    memset(w, 0, sizeof(*w));
    w->used = true;
    snprintf(w->vault, sizeof(w->vault), "%s", vault);
    w->opened = now;
    memset(&n, 0, sizeof(n));
    snprintf(n.vault, sizeof(n.vault), "%s", vault);
    snprintf(n.file, sizeof(n.file), "%s", file);
    snprintf(n.outcome, sizeof(n.outcome), "%s", outcome);
    snprintf(n.reason, sizeof(n.reason), "%s", reason);
    push(d, &n);
    pthread_mutex_unlock(&d->lock);
}

/* The window that closes first among those holding refusals back, or NULL. */
static struct window *next_to_close(struct desktop *d)
{
    struct window *first = NULL;

    for (size_t i = 0; i < WINDOWS; i++) {
        struct window *w = &d->windows[i];
        if (w->used && w->held && (!first || seconds_between(&w->opened, &first->opened) > 0))
            first = w;
    }
    return first;
}

static void *run(void *arg)
{
    struct desktop *d = arg;
    struct note n;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct window *w = next_to_close(d);
        struct timespec now, due;

        if (d->count) {
            n = d->queue[d->head];
            d->head = (d->head + 1) % QUEUE_SIZE;
            d->count--;
        } else if (w) {
            due = w->opened;
            due.tv_sec += DESKTOP_WINDOW_SECONDS;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (seconds_between(&now, &due) > 0) {
                pthread_cond_timedwait(&d->wake, &d->lock, &due);
                continue;
            }
            held_note(&n, w);
            w->held = 0;
        } else {
            pthread_cond_wait(&d->wake, &d->lock);
            continue;
        }
        /* the bus without the lock: a FUSE operation queueing never waits */
        pthread_mutex_unlock(&d->lock);
        send_note(d, &n);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int desktop_new(struct desktop **out)
{
    struct desktop *d = calloc(1, sizeof(*d));
    pthread_condattr_t attr;

    *out = NULL;
    if (!d)
        return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &attr);
    pthread_condattr_destroy(&attr);
    d->markup = true; /* until the server says otherwise */
    *out = d;
    return 0;
}

int desktop_start(struct desktop *d)
{
    int ret = pthread_create(&d->thread, NULL, run, d);

    d->started = ret == 0;
    return -ret;
}

void desktop_free(struct desktop *d)
{
    if (!d)
        return;
    if (d->started) {
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
    }
    sd_bus_flush_close_unref(d->bus);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
