#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "log.h"
#include "store.h"

const char *cli_decode_reason(int err)
{
    switch (err) {
    case -EACCES:
        return "wrong or missing password";
    case -EINVAL:
        return "not a Vultisig backup, or truncated or corrupt";
    case -EFBIG:
        return "too large for a Vultisig backup";
    case -ENOMEM:
        return "out of memory";
    default:
        return strerror(-err);
    }
}

const char *cli_read_reason(int err)
{
    static char text[256];
    size_t limit;

    if (err != -ENOMEM || !alloc_secret_lock_refused())
        return strerror(-err);
    limit = alloc_lock_limit();
    snprintf(text, sizeof(text),
             "it does not fit in locked memory (a backup is never read where it could be "
             "swapped): the memory-lock limit (RLIMIT_MEMLOCK) is %zu KiB; raise it with "
             "ulimit -l, or LimitMEMLOCK= in the systemd unit",
             limit == SIZE_MAX ? (size_t)0 : limit >> 10);
    return text;
}

int cli_get_secret(struct secret *out, const char *path, const char *prompt, const char *what,
                   int confirm)
{
    int ret;

    if (path) {
        ret = secret_from_file(out, path, 0);
        if (ret == -EINVAL)
            log_err("%s file %s is empty", what, path);
        else if (ret == -ETIMEDOUT)
            log_err("%s file %s: nothing to read within %u s (a FIFO that no one writes?)",
                    what, path, secret_wait_seconds());
        else if (ret < 0)
            log_err("cannot read %s file %s: %s", what, path, strerror(-ret));
        return ret;
    }
    ret = secret_from_tty(out, prompt, 0);
    if (ret == -ENOTTY) {
        log_err("a %s is needed and there is no terminal to ask on: give it in a file "
                "(see --help)", what);
        return ret;
    }
    if (ret == -EINVAL) {
        log_err("an empty %s is not allowed", what);
        return ret;
    }
    if (ret < 0) {
        log_err("cannot read the %s: %s", what, strerror(-ret));
        return ret;
    }
    if (confirm) {
        struct secret again;
        ret = secret_from_tty(&again, "Repeat it: ", 1);
        if (ret == 0 && (again.len != out->len ||
                         sodium_memcmp(again.text, out->text, out->len) != 0)) {
            log_err("the two entries of the %s differ", what);
            ret = -EINVAL;
        }
        secret_free(&again);
        if (ret < 0)
            secret_free(out);
    }
    return ret;
}

int cli_parse_export_password(bool *none, const char *text)
{
    if (strcmp(text, "none") != 0) {
        log_err("--export-password takes only 'none'; give a password with "
                "--export-password-file F (never on the command line)");
        return -EINVAL;
    }
    *none = true;
    return 0;
}

int cli_parse_scheme(enum backup_crypto_scheme *scheme, const char *text)
{
    if (strcmp(text, "current") == 0)
        *scheme = BACKUP_CRYPTO_CURRENT;
    else if (strcmp(text, "legacy") == 0)
        *scheme = BACKUP_CRYPTO_LEGACY;
    else {
        log_err("--export-scheme is 'current' or 'legacy', not '%s'", text);
        return -EINVAL;
    }
    return 0;
}

/* mkdir -p of path (an absolute path), each new level 0700. */
static int make_dirs(char *path)
{
    for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = '\0';
        int made = mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -errno;
        if (slash)
            *slash = '/';
        if (made < 0)
            return made;
        if (!slash)
            return 0;
    }
}

const char *cli_state_dir(void)
{
    static char dir[PATH_MAX];
    const char *base = getenv("XDG_STATE_HOME");
    int n;

    if (base && base[0] == '/') { /* the spec ignores a relative one */
        n = snprintf(dir, sizeof(dir), "%s/vultfs", base);
    } else {
        const char *home = getenv("HOME");
        struct passwd *pw = home && home[0] == '/' ? NULL : getpwuid(geteuid());
        if (pw)
            home = pw->pw_dir;
        if (!home || home[0] != '/')
            return NULL;
        n = snprintf(dir, sizeof(dir), "%s/.local/state/vultfs", home);
    }
    if (n < 0 || (size_t)n >= sizeof(dir) || make_dirs(dir) < 0)
        return NULL;
    return dir;
}

/* One clear line for each way opening a store fails. */
static int report_open(int ret, const char *dir, int busy_pid,
                       const struct store_open_options *opt)
{
    char problem[512];

    if (ret < 0 && ret != -EBUSY && ret != -EACCES && ret != -ESTALE && ret != -EUCLEAN &&
        store_diagnose(problem, sizeof(problem), dir)) {
        log_err("store %s is refused: %s", dir, problem);
        return ret;
    }
    switch (ret) {
    case 0:
        break;
    case -ENOENT:
        log_err("no store at %s (create one with: vultfs init %s)", dir, dir);
        break;
    case -EBUSY:
        if (busy_pid > 0)
            log_err("store %s is in use by pid %d", dir, busy_pid);
        else
            log_err("store %s is in use by another vultfs", dir);
        break;
    case -EACCES:
        log_err("wrong passphrase for store %s", dir);
        break;
    case -EPROTONOSUPPORT:
        log_err("store %s has a newer format than this vultfs knows (%d): upgrade vultfs", dir,
                STORE_FORMAT_VERSION);
        break;
    case -EBADMSG:
        log_err("store %s is damaged: vultfs.json is damaged (a value out of range or not "
                "matching its checksum); restore it from a backup", dir);
        break;
    case -EIO:
        log_err("store %s is damaged: its index does not verify", dir);
        break;
    case -ESTALE:
        if (opt->seen_change > opt->change)
            log_err("store %s is older than the one last seen here: it is at change %" PRIu64
                    ", and change %" PRIu64 " was seen (it was restored from an older copy, "
                    "or its files were rolled back); if you restored it on purpose, give "
                    "--accept-rollback (-o accept_rollback) to take it as it is", dir,
                    opt->change, opt->seen_change);
        else
            log_err("store %s: %s", dir, opt->problem);
        break;
    case -EUCLEAN:
        log_err("store %s has a problem that vultfs fsck %s reports: %s", dir, dir, opt->problem);
        break;
    default:
        log_err("cannot open store %s: %s", dir, strerror(-ret));
        break;
    }
    return ret;
}

int cli_open_store(struct store **out, const char *dir, const struct secret *passphrase,
                   unsigned flags)
{
    struct store_open_options opt = {
        .state_dir = cli_state_dir(),
        .accept_rollback = flags & CLI_OPEN_ACCEPT_ROLLBACK,
        .repair = flags & CLI_OPEN_REPAIR,
    };
    int busy_pid = 0;
    int ret = store_open_with(out, &busy_pid, dir, passphrase->text, passphrase->len, &opt);
    return report_open(ret, dir, busy_pid, &opt);
}

int cli_open_store_readonly(struct store **out, const char *dir,
                            const struct secret *passphrase, bool warn)
{
    struct store_open_options opt = {.state_dir = cli_state_dir()};
    int ret = store_open_readonly_with(out, dir, passphrase->text, passphrase->len, &opt);
    bool blocks = false;
    char text[512];

    ret = report_open(ret, dir, 0, &opt);
    for (size_t i = 0; ret == 0 && warn && i < store_problem_count(*out) && !blocks; i++)
        store_problem_text(text, sizeof(text), &blocks, *out, i);
    if (blocks)
        log_warn("store %s: %s (vultfs fsck %s names every problem)", dir, text, dir);
    return ret;
}

int cli_confirm_name(const char *prompt, const char *name, const char *command)
{
    struct secret answer;

    /* not a secret: the answer echoes, so a typo shows (secret_answer_from_tty) */
    if (secret_answer_from_tty(&answer, prompt) < 0) {
        log_err("%s needs a terminal to confirm, or --yes", command);
        return -ENOTTY;
    }
    bool confirmed = strcmp(answer.text, name) == 0;
    secret_free(&answer);
    return confirmed ? 0 : -ECANCELED;
}

int cli_set_export(struct store *store, bool none, const char *password_file,
                   enum backup_crypto_scheme scheme, const struct secret *passphrase)
{
    struct secret password = {0};
    int ret;

    if (none) {
        ret = store_set_export(store, NULL, 0, BACKUP_CRYPTO_NONE);
    } else if (password_file) {
        ret = cli_get_secret(&password, password_file, "", "export password", 0);
        if (ret < 0)
            return ret;
        ret = store_set_export(store, password.text, password.len, scheme);
        secret_free(&password);
    } else {
        ret = store_set_export(store, passphrase->text, passphrase->len, scheme);
    }
    if (ret == -EINVAL)
        log_err("the export password%s is blank or only white space, which the Vultisig "
                "apps refuse: give another with --export-password-file",
                none || password_file ? "" : " (the store passphrase)");
    else if (ret < 0)
        log_err("cannot set up exports: %s", strerror(-ret));
    return ret;
}

int cli_stamp_exports(struct store *store)
{
    int ret = store_export_stamp(store);
    if (ret == -ENOMEM) {
        log_err("cannot set up exports: %s", strerror(-ret));
        return ret;
    }
    if (ret < 0)
        log_warn("cannot record the export settings in the store: %s (exports show as "
                 "changed now; the next mount that can write says so again)", strerror(-ret));
    switch (store_export_stamp_said(store)) {
    case STORE_STAMP_DISTRUSTED:
        log_warn("export-stamp.rec was damaged, missing or not the one last written: written "
                 "again, so every export's mtime and ctime are now this mount's time and "
                 "backup tools copy the exports once more (vultfs fsck reports such damage)");
        break;
    case STORE_STAMP_SETTINGS_CHANGED:
        log_info("the export settings differ from the last mount's: every export has new "
                 "bytes, and its mtime and ctime are now this mount's time");
        break;
    default:
        break;
    }
    return 0;
}

int cli_each_password_line(const char *path, int (*add)(void *ctx, const struct secret *line),
                           void *ctx)
{
    struct secret *lines = NULL;
    size_t count = 0;
    int ret;

    if (!path)
        return 0;
    ret = secret_lines_from_file(&lines, &count, path);
    if (ret == -ETIMEDOUT) {
        log_err("import passwords file %s: nothing to read within %u s (a FIFO that no one "
                "writes?)", path, secret_wait_seconds());
        return ret;
    }
    if (ret < 0) {
        log_err("cannot read import passwords file %s: %s", path, strerror(-ret));
        return ret;
    }
    for (size_t i = 0; i < count && ret == 0; i++)
        ret = add(ctx, &lines[i]);
    if (ret < 0)
        log_err("import passwords from %s: %s", path,
                ret == -ENOSPC ? "too many" : strerror(-ret));
    secret_free_list(lines, count);
    return ret;
}

static int add_to_store(void *ctx, const struct secret *line)
{
    return store_add_import_password(ctx, line->text, line->len);
}

int cli_add_import_passwords(struct store *store, const char *path)
{
    return cli_each_password_line(path, add_to_store, store);
}
