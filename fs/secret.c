#include "secret.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "escape.h"

unsigned secret_wait_seconds(void)
{
    const char *test = getenv("VULTFS_TEST_SECRET_WAIT");
    char *end;
    unsigned long seconds = test ? strtoul(test, &end, 10) : 0;

    if (test && *test && !*end && seconds >= 1 && seconds < SECRET_WAIT_SECONDS)
        return (unsigned)seconds;
    return SECRET_WAIT_SECONDS;
}

/* CLOCK_MONOTONIC now plus the wait. */
static struct timespec deadline_from_now(void)
{
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += (time_t)secret_wait_seconds();
    return at;
}

/* Milliseconds left until at (0 once it passed), for poll. */
static int ms_until(const struct timespec *at)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(at->tv_sec - now.tv_sec) * 1000 +
                   (at->tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Reads at most SECRET_MAX_BYTES from fd (non-blocking) into a secret
 * buffer, until its end or until the deadline: -ETIMEDOUT then, so that a
 * FIFO nobody writes or a command that never ends cannot hold vultfs
 * forever. A FIFO opened with O_NONBLOCK before any writer came shows no
 * end until one has come and gone (the kernel holds POLLHUP back), so a
 * writer that comes in time is waited for. The whole input is read so a
 * long line is refused, not silently cut. */
static int read_all(char **out, size_t *len, int fd, const struct timespec *deadline)
{
    char *buf = alloc_secret(SECRET_MAX_BYTES + 1);
    size_t used = 0;
    int err = 0;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, ms_until(deadline));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            err = ready < 0 ? -errno : -ETIMEDOUT;
            break;
        }
        ssize_t n = read(fd, buf + used, SECRET_MAX_BYTES + 1 - used);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > SECRET_MAX_BYTES) {
            err = -EFBIG;
            break;
        }
    }
    if (err < 0) {
        alloc_secret_free(buf);
        return err;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
}

/* Opens a file the user names for a secret without waiting: a FIFO with
 * no writer yet opens at once (read_all bounds the wait for one). */
static int open_source(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Keeps the first line of buf (cuts at \n, drops a \r before it). */
static size_t first_line(char *buf, size_t len)
{
    char *nl = memchr(buf, '\n', len);
    size_t keep = nl ? (size_t)(nl - buf) : len;
    if (keep && buf[keep - 1] == '\r')
        keep--;
    sodium_memzero(buf + keep, len - keep);
    return keep;
}

int secret_from_file(struct secret *out, const char *path, int allow_empty)
{
    struct timespec deadline = deadline_from_now();
    int fd = open_source(path);
    int ret;

    memset(out, 0, sizeof(*out));
    if (fd < 0)
        return fd;
    ret = read_all(&out->text, &out->len, fd, &deadline);
    close(fd);
    if (ret < 0)
        return ret;
    out->len = first_line(out->text, out->len);
    if (!out->len && !allow_empty) {
        secret_free(out);
        return -EINVAL;
    }
    return 0;
}

/* ---- the terminal ---------------------------------------------------------
 *
 * While a prompt waits, the terminal may be in no-echo mode: a signal that
 * ends or stops the program must not leave it so. These signals are
 * blocked except inside ppoll, so each one is seen whenever it comes; the
 * terminal is restored, then the signal is sent again under the program's
 * own disposition (a stop, after which the prompt is shown again). A
 * signal the program ignores stays ignored. Prompts run before any thread
 * exists (the mount asks before fuse_new).
 */

static const int tty_signals[] = {SIGINT, SIGTERM, SIGTSTP, SIGHUP, SIGQUIT};
#define TTY_SIGNAL_COUNT (sizeof(tty_signals) / sizeof(tty_signals[0]))

static volatile sig_atomic_t tty_caught;

static void on_tty_signal(int sig)
{
    tty_caught = sig;
}

struct tty_prompt {
    int fd;
    struct termios saved;
    bool echo; /* an answer, not a secret: shown as typed */
    struct sigaction old_actions[TTY_SIGNAL_COUNT];
    bool caught[TTY_SIGNAL_COUNT]; /* our handler is installed */
    sigset_t old_mask;
};

static void catch_signals(struct tty_prompt *p)
{
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tty_signal; /* no SA_RESTART: ppoll must return */
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    tty_caught = 0;
    for (size_t i = 0; i < TTY_SIGNAL_COUNT; i++) {
        p->caught[i] = sigaction(tty_signals[i], NULL, &p->old_actions[i]) == 0 &&
                       p->old_actions[i].sa_handler != SIG_IGN &&
                       sigaction(tty_signals[i], &sa, NULL) == 0;
        if (p->caught[i])
            sigaddset(&block, tty_signals[i]);
    }
    pthread_sigmask(SIG_BLOCK, &block, &p->old_mask);
}

/* The old dispositions back, and a caught signal sent again under them
 * (delivered when the old mask is restored). */
static void release_signals(struct tty_prompt *p, int sig)
{
    for (size_t i = 0; i < TTY_SIGNAL_COUNT; i++)
        if (p->caught[i])
            sigaction(tty_signals[i], &p->old_actions[i], NULL);
    if (sig)
        raise(sig);
    pthread_sigmask(SIG_SETMASK, &p->old_mask, NULL);
}

/* One line from the terminal into buf (SECRET_MAX_BYTES + 1), without its
 * newline: 0, -EFBIG when it is longer, -EINTR on one of tty_signals. */
static int read_line(const struct tty_prompt *p, char *buf, size_t *used)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};

    for (;;) {
        char c;
        if (tty_caught)
            return -EINTR;
        if (ppoll(&pfd, 1, NULL, &p->old_mask) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ssize_t n = read(p->fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\n')
            return 0;
        if (*used == SECRET_MAX_BYTES)
            return -EFBIG;
        buf[(*used)++] = c;
    }
}

/* Shows prompt and reads one line; the terminal is as it was afterwards,
 * whatever happened. */
static int prompt_once(struct tty_prompt *p, const char *prompt, char *buf, size_t *used)
{
    struct termios mode = p->saved;
    int ret, sig;

    if (!p->echo)
        mode.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    mode.c_lflag |= ICANON;
    catch_signals(p);
    /* the mode is set before the prompt shows, with TCSANOW: TCSAFLUSH
     * would discard an answer typed as soon as the prompt appears (or
     * typed ahead, as a pty answering both prompts of init at once) */
    if (tcsetattr(p->fd, TCSANOW, &mode) < 0 || write(p->fd, prompt, strlen(prompt)) < 0)
        ret = -ENOTTY;
    else
        ret = read_line(p, buf, used);
    tcsetattr(p->fd, TCSANOW, &p->saved);
    sig = tty_caught;
    if ((!p->echo || sig) && write(p->fd, "\n", 1) < 0) {
        /* only cosmetics: the prompt's line is not ended */
    }
    release_signals(p, sig);
    return ret;
}

/* Asks on /dev/tty until a line is read; after a stop (SIGTSTP) and
 * continue, asks again. */
static int ask_tty(struct secret *out, const char *prompt, int allow_empty, bool echo)
{
    struct tty_prompt p = {.echo = echo};
    char *buf = NULL, *shown;
    size_t used = 0;
    int ret;

    memset(out, 0, sizeof(*out));
    p.fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p.fd < 0)
        return -ENOTTY;
    /* a prompt names a store, a file or a vault (which a backup named) */
    shown = escape_dup(prompt);
    ret = !isatty(p.fd) || tcgetattr(p.fd, &p.saved) < 0 ? -ENOTTY : 0;
    if (ret == 0 && (!shown || !(buf = alloc_secret(SECRET_MAX_BYTES + 1))))
        ret = -ENOMEM;
    while (ret == 0) {
        used = 0;
        ret = prompt_once(&p, shown, buf, &used);
        if (ret != -EINTR || tty_caught != SIGTSTP)
            break;
        sodium_memzero(buf, used); /* continued after a stop: ask again */
        ret = 0;
    }
    close(p.fd);
    alloc_free(shown);
    if (ret == 0 && !used && !allow_empty)
        ret = -EINVAL;
    if (ret < 0) {
        alloc_secret_free(buf);
        return ret;
    }
    buf[used] = '\0';
    out->text = buf;
    out->len = used;
    return 0;
}

int secret_from_tty(struct secret *out, const char *prompt, int allow_empty)
{
    return ask_tty(out, prompt, allow_empty, false);
}

int secret_answer_from_tty(struct secret *out, const char *prompt)
{
    return ask_tty(out, prompt, 1, true);
}

/* The parent of process pid, from /proc/PID/stat ("pid (comm) state
 * ppid ..."; comm may hold spaces and parentheses), or 0. */
static pid_t parent_of(const char *pid)
{
    char path[sizeof("/proc//stat") + 256], stat[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, stat, sizeof(stat) - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    stat[n] = '\0';
    const char *end = strrchr(stat, ')');
    int ppid = 0;
    return end && sscanf(end + 1, " %*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

#define TREE_MAX 64

/* root and the processes descended from it, into tree (at most TREE_MAX):
 * sh runs a command as its own child (dash does not exec it), which would
 * outlive sh and go on waiting. */
static size_t find_tree(pid_t tree[TREE_MAX], pid_t root)
{
    DIR *proc = opendir("/proc");
    size_t n = 1;
    bool grew = proc != NULL;

    tree[0] = root;
    while (grew && n < TREE_MAX) { /* again until nothing new: pids may wrap */
        struct dirent *entry;
        grew = false;
        rewinddir(proc);
        while (n < TREE_MAX && (entry = readdir(proc))) {
            pid_t pid = (pid_t)strtol(entry->d_name, NULL, 10), parent;
            bool known = pid <= 0;
            for (size_t i = 0; i < n && !known; i++)
                known = tree[i] == pid;
            if (known || !(parent = parent_of(entry->d_name)))
                continue;
            for (size_t i = 0; i < n; i++)
                if (tree[i] == parent) {
                    tree[n++] = pid;
                    grew = true;
                    break;
                }
        }
    }
    if (proc)
        closedir(proc);
    return n;
}

/* Ends a command that overran its time, and what it started (found
 * first: once sh is gone they are init's): asked (SIGTERM), then, if the
 * command is not gone a second later, killed, all of them alike. */
static void end_command(pid_t pid, int *status)
{
    pid_t tree[TREE_MAX];
    size_t n = find_tree(tree, pid);
    bool ended = false;

    for (size_t i = 0; i < n; i++)
        kill(tree[i], SIGTERM);
    for (int i = 0; i < 20 && !ended; i++) {
        ended = waitpid(pid, status, WNOHANG) == pid;
        if (!ended)
            nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
    }
    for (size_t i = 1; i < n; i++) /* those that ignored SIGTERM */
        kill(tree[i], SIGKILL);
    if (ended)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

int secret_from_command(struct secret *out, const char *cmd)
{
    struct timespec deadline = deadline_from_now();
    int pipefd[2];
    int status = 0;
    int ret;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        ret = -errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return ret;
    }
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    ret = fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
    if (ret == 0)
        ret = read_all(&out->text, &out->len, pipefd[0], &deadline);
    close(pipefd[0]);
    if (ret < 0) { /* what it prints no longer matters: it may still be running */
        end_command(pid, &status);
        return ret;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (ret == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        ret = -ECHILD;
    if (ret == 0) {
        out->len = first_line(out->text, out->len);
        if (!out->len)
            ret = -EINVAL;
    }
    if (ret < 0)
        secret_free(out);
    return ret;
}

int secret_lines_from_file(struct secret **out, size_t *count, const char *path)
{
    struct timespec deadline = deadline_from_now();
    struct secret whole;
    struct secret *list = NULL;
    size_t n = 0;
    int fd = open_source(path);
    int ret;

    *out = NULL;
    *count = 0;
    if (fd < 0)
        return fd;
    ret = read_all(&whole.text, &whole.len, fd, &deadline);
    close(fd);
    if (ret < 0)
        return ret;

    list = alloc_zeroed(SECRET_MAX_BYTES, sizeof(*list));
    if (!list) {
        secret_free(&whole);
        return -ENOMEM;
    }
    for (char *line = whole.text; line < whole.text + whole.len;) {
        char *nl = memchr(line, '\n', (size_t)(whole.text + whole.len - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(whole.text + whole.len - line);
        size_t keep = len && line[len - 1] == '\r' ? len - 1 : len;
        if (keep) {
            list[n].text = alloc_secret(keep + 1);
            if (!list[n].text) {
                ret = -ENOMEM;
                break;
            }
            memcpy(list[n].text, line, keep);
            list[n].text[keep] = '\0';
            list[n].len = keep;
            n++;
        }
        line += len + 1;
    }
    secret_free(&whole);
    if (ret < 0) {
        secret_free_list(list, n);
        return ret;
    }
    *out = list;
    *count = n;
    return 0;
}

void secret_free(struct secret *s)
{
    if (!s)
        return;
    alloc_secret_free(s->text);
    s->text = NULL;
    s->len = 0;
}

void secret_free_list(struct secret *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        secret_free(&list[i]);
    alloc_free(list);
}
