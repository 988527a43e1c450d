#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"

/* Reads at most SECRET_MAX_BYTES from fd into a secret buffer. The whole
 * input is read so a long line is refused, not silently cut. */
static int read_all(char **out, size_t *len, int fd)
{
    char *buf = alloc_secret(SECRET_MAX_BYTES + 1);
    size_t used = 0;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n = read(fd, buf + used, SECRET_MAX_BYTES + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            alloc_secret_free(buf);
            return err;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > SECRET_MAX_BYTES) {
            alloc_secret_free(buf);
            return -EFBIG;
        }
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ret;

    memset(out, 0, sizeof(*out));
    if (fd < 0)
        return -errno;
    ret = read_all(&out->text, &out->len, fd);
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
    char *buf = NULL;
    size_t used = 0;
    int ret;

    memset(out, 0, sizeof(*out));
    p.fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p.fd < 0)
        return -ENOTTY;
    ret = !isatty(p.fd) || tcgetattr(p.fd, &p.saved) < 0 ? -ENOTTY : 0;
    if (ret == 0 && !(buf = alloc_secret(SECRET_MAX_BYTES + 1)))
        ret = -ENOMEM;
    while (ret == 0) {
        used = 0;
        ret = prompt_once(&p, prompt, buf, &used);
        if (ret != -EINTR || tty_caught != SIGTSTP)
            break;
        sodium_memzero(buf, used); /* continued after a stop: ask again */
        ret = 0;
    }
    close(p.fd);
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

int secret_from_command(struct secret *out, const char *cmd)
{
    int pipefd[2];
    int status;
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
    ret = read_all(&out->text, &out->len, pipefd[0]);
    close(pipefd[0]);
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
    struct secret whole;
    struct secret *list = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ret;

    *out = NULL;
    *count = 0;
    if (fd < 0)
        return -errno;
    ret = read_all(&whole.text, &whole.len, fd);
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
