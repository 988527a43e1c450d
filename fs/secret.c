#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* One line from fd into buf (SECRET_MAX_BYTES + 1), without its newline:
 * 0, or -EFBIG when it is longer. */
static int read_line(int fd, char *buf, size_t *used)
{
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\n')
            return 0;
        if (*used == SECRET_MAX_BYTES)
            return -EFBIG;
        buf[(*used)++] = c;
    }
}

int secret_from_tty(struct secret *out, const char *prompt, int allow_empty)
{
    struct termios saved, quiet;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    char *buf;
    size_t used = 0;
    int ret = 0;

    memset(out, 0, sizeof(*out));
    if (fd < 0 || !isatty(fd)) {
        if (fd >= 0)
            close(fd);
        return -ENOTTY;
    }
    buf = alloc_secret(SECRET_MAX_BYTES + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    if (tcgetattr(fd, &saved) < 0) {
        ret = -ENOTTY;
        goto out_free;
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    /* echo off (and earlier typing dropped) before the prompt shows: an
     * answer typed as soon as the prompt appears must not be flushed */
    if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
        ret = -ENOTTY;
        goto out_free;
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        tcsetattr(fd, TCSAFLUSH, &saved);
        ret = -ENOTTY;
        goto out_free;
    }
    ret = read_line(fd, buf, &used);
    tcsetattr(fd, TCSAFLUSH, &saved);
    if (write(fd, "\n", 1) < 0) {
        /* only cosmetics: the prompt's line is not ended */
    }
    if (ret == 0 && !used && !allow_empty)
        ret = -EINVAL;
    if (ret < 0)
        goto out_free;
    buf[used] = '\0';
    out->text = buf;
    out->len = used;
    close(fd);
    return 0;

out_free:
    alloc_secret_free(buf);
    close(fd);
    return ret;
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
