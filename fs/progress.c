#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#define REDRAW_NS 100000000L /* a tenth of a second */

static struct progress *current; /* the one under way, whose line may be drawn */

static double seconds_since(const struct timespec *then, const struct timespec *now)
{
    return (double)(now->tv_sec - then->tv_sec) + (double)(now->tv_nsec - then->tv_nsec) / 1e9;
}

static void format_duration(char *out, size_t cap, double seconds)
{
    unsigned long s = (unsigned long)(seconds + 0.5);

    if (s < 60)
        snprintf(out, cap, "%lu s", s);
    else if (s < 3600)
        snprintf(out, cap, "%lu min %02lu s", s / 60, s % 60);
    else
        snprintf(out, cap, "%lu h %02lu min", s / 3600, s / 60 % 60);
}

static void draw(struct progress *p, const struct timespec *now)
{
    double elapsed = seconds_since(&p->started, now);
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char left[32] = "?";

    if (rate > 0 && p->total >= p->done)
        format_duration(left, sizeof(left), (double)(p->total - p->done) / rate);
    /* \r and erase-to-end: the line is redrawn in place */
    fprintf(stderr, "\r\033[Kvultfs: %s: %zu/%zu %s, %.*f/s, %s left", p->what, p->done,
            p->total, p->unit, rate < 10 ? 1 : 0, rate, left);
    fflush(stderr);
    p->drawn = p->ever_drawn = true;
    p->drawn_at = *now;
}

void progress_start(struct progress *p, const char *what, const char *unit, size_t total)
{
    *p = (struct progress){.on = isatty(STDERR_FILENO) == 1, .what = what, .unit = unit,
                           .total = total};
    clock_gettime(CLOCK_MONOTONIC, &p->started);
    if (p->on)
        current = p;
}

void progress_add_total(struct progress *p, size_t more)
{
    p->total += more;
}

void progress_step(struct progress *p, size_t n)
{
    struct timespec now;

    p->done += n;
    if (!p->on)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* at the first step, then at most every REDRAW_NS (also after an erase:
     * a command printing many lines does not redraw after each) */
    if (!p->ever_drawn || seconds_since(&p->drawn_at, &now) * 1e9 >= REDRAW_NS)
        draw(p, &now);
}

static void erase(struct progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = false;
}

void progress_before_print(FILE *to)
{
    if (current && (to == stderr || isatty(fileno(to)) == 1))
        erase(current);
}

void progress_end(struct progress *p)
{
    erase(p);
    if (current == p)
        current = NULL;
    p->on = false;
}

void progress_report(void *ctx, size_t done, size_t total)
{
    struct progress *p = ctx;

    p->total = total;
    if (done > p->done)
        progress_step(p, done - p->done);
}
