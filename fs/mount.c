/*
 * vultfs mount: opens the store and serves it through FUSE. Everything
 * that can fail for a reason the user should see (options, the mountpoint,
 * the passphrase, the store) happens before daemonizing, so the error
 * shows in the terminal as one line.
 *
 * mount(8) reaches this too: for an fstab line of type fuse.vultfs,
 * mount.fuse3 runs "vultfs STORE MOUNTPOINT -o OPTIONS" (main.c sends that
 * form here), with the options of options.c spelt as mount options.
 */
#include "fuse_ops.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "desktop.h"
#include "log.h"
#include "notify.h"
#include "mounted.h"
#include "options.h"
#include "store.h"
#include "vultfs.h"

const char mount_usage[] =
    "usage: vultfs mount [--passphrase-file F | --extpass CMD]\n"
    "                    [--export-password-file F | --export-password none]\n"
    "                    [--export-scheme current|legacy] [--import-passwords F] [--log-file F]\n"
    "                    [--max-import BYTES] [--flush auto|fs|files] [--notify yes|no]\n"
    "                    [--accept-rollback] [-f] [-o OPTIONS] STORE MOUNTPOINT\n"
    "       mount -t fuse.vultfs STORE MOUNTPOINT -o passphrase_file=F[,OPTIONS]\n"
    "\n"
    "Shows the store's vaults as directories at MOUNTPOINT; writing a .vult\n"
    "file into it imports the file. Unmount with: fusermount3 -u MOUNTPOINT\n"
    "Every option also works as a mount option (-o name=value, as in fstab).\n"
    "\n"
    "  --passphrase-file F          the store passphrase (first line of F);\n"
    "                               else it is asked on the terminal\n"
    "  --extpass CMD                run CMD (through /bin/sh) for the passphrase\n"
    "  --export-password-file F     encrypt share.vult with this password\n"
    "                               (default: the store passphrase)\n"
    "  --export-password none       unencrypted exports (the apps' \"Skip\")\n"
    "  --export-scheme current|legacy\n"
    "                               current (default): what apps since 2026 write;\n"
    "                               legacy: older apps and the published SDK\n"
    "  --import-passwords F         more passwords to try on imports, one a line\n"
    "  --log-file F                 also append log lines to F\n"
    "  --max-import N               the largest import (bytes, k/M suffix; default 32M,\n"
    "                               at most 256M)\n"
    "  --flush auto|fs|files        how an import is made durable (see below)\n"
    "  --notify yes|no              tell the desktop (its session bus) why an import was\n"
    "                               refused, at most once every few seconds a vault\n"
    "                               (default yes)\n"
    "  --accept-rollback            take a store that is older than the one last seen\n"
    "                               here, after restoring it from an older copy on\n"
    "                               purpose (otherwise such a store is refused)\n"
    "  -f, --foreground             stay in the foreground, log to stderr\n"
    "  -o OPTS                      the options above as name=value (passphrase_file=F,\n"
    "                               export_scheme=legacy, max_import=N, ...) and FUSE\n"
    "                               mount options (allow_other, ...), comma-separated\n"
    "  -h, --help                   this text\n"
    FLUSH_HELP;

static const unsigned mount_accepts =
    OPTION_PASSPHRASE_FILE | OPTION_EXTPASS | OPTION_EXPORT_PASSWORD_FILE |
    OPTION_EXPORT_PASSWORD | OPTION_EXPORT_SCHEME | OPTION_IMPORT_PASSWORDS | OPTION_LOG_FILE |
    OPTION_FOREGROUND | OPTION_MAX_IMPORT | OPTION_FLUSH | OPTION_NOTIFY |
    OPTION_ACCEPT_ROLLBACK;

/* 0, 1 (help printed) or 2 (usage error, reported). */
static int parse_mount_options(struct options *o, int argc, char **argv)
{
    switch (options_parse(o, argc, argv, mount_accepts, 2, 2, true)) {
    case OPTIONS_HELP:
        fputs(mount_usage, stdout);
        return 1;
    case OPTIONS_USAGE:
        if (!o->bad)
            fputs(mount_usage, stderr);
        return 2;
    case OPTIONS_OK:
        break;
    }
    if (o->passphrase_file && o->extpass) {
        log_err("give either --passphrase-file or --extpass, not both");
        return 2;
    }
    if (o->export_password_file && o->export_none) {
        log_err("give either --export-password-file or --export-password none, not both");
        return 2;
    }
    return 0;
}

/* A directory that is not already a vultfs mount: stacking a second mount
 * hides the first one's shares behind another store's. */
static int check_mountpoint(const char *arg, char mountpoint[PATH_MAX])
{
    char source[PATH_MAX];
    struct stat st;
    int ret;

    if (stat(arg, &st) < 0) {
        log_err("mountpoint %s: %s", arg, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_err("mountpoint %s: not a directory", arg);
        return -ENOTDIR;
    }
    /* the daemon runs in /: a relative mountpoint would not unmount */
    if (!realpath(arg, mountpoint)) {
        log_err("mountpoint %s: %s", arg, strerror(errno));
        return -errno;
    }
    ret = mounted_as(mountpoint, "fuse.vultfs", source, sizeof(source));
    if (ret > 0) {
        log_err("%s is already a vultfs mount (of %s): unmount it first "
                "(fusermount3 -u %s)", mountpoint, source, mountpoint);
        return -EBUSY;
    }
    if (ret < 0)
        log_warn("cannot read the mount table to check %s: %s", mountpoint, strerror(-ret));
    return 0;
}

/* A mountpoint that is the store, or inside it, would hide the store's
 * own files under the mount (from backups of the store, fsck, a second
 * look). Compared by device and inode, each directory from the mountpoint
 * up to /, so that another path to the store (a link, a bind mount of it)
 * is seen too. */
static int check_outside_store(const char *mountpoint, const char *store_dir)
{
    char path[PATH_MAX];
    struct stat store, st;

    if (stat(store_dir, &store) < 0 || !S_ISDIR(store.st_mode))
        return 0; /* opening it says what is wrong */
    snprintf(path, sizeof(path), "%s", mountpoint); /* realpath's: absolute, no links */
    for (;;) {
        if (stat(path, &st) == 0 && st.st_dev == store.st_dev && st.st_ino == store.st_ino) {
            if (strcmp(path, mountpoint) == 0)
                log_err("cannot mount on %s: it is the store itself, which the mount would "
                        "hide; mount it on another directory", mountpoint);
            else
                log_err("cannot mount on %s: it is inside the store %s, which is no place "
                        "for anything else; mount it on a directory outside", mountpoint,
                        store_dir);
            return -EINVAL;
        }
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
            break;
        *slash = '\0';
    }
    return 0;
}

/* Turns "PATH" (escaped) into "fsname=PATH". */
static int fsname_prefix(char **opts)
{
    size_t len = strlen(*opts);
    char *grown = realloc(*opts, len + sizeof("fsname="));

    if (!grown)
        return -1;
    memmove(grown + 7, grown, len + 1);
    memcpy(grown, "fsname=", 7);
    *opts = grown;
    return 0;
}

/* fuse_opt's callback for allow_other: note it, and keep it for FUSE. */
static int note_allow_other(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    (void)arg, (void)outargs;
    if (key == 1)
        *(bool *)data = true;
    return 1;
}

/* Whether the user's FUSE options let other users in. */
static int wants_allow_other(bool *out, const struct options *o)
{
    static const struct fuse_opt allow_other[] = {FUSE_OPT_KEY("allow_other", 1), FUSE_OPT_END};
    struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
    int ret = 0;

    *out = false;
    for (int i = 0; i < o->fuse.argc && ret == 0; i++)
        ret = fuse_opt_add_arg(&copy, o->fuse.argv[i]);
    if (ret == 0)
        ret = fuse_opt_parse(&copy, out, allow_other, note_allow_other);
    fuse_opt_free_args(&copy);
    return ret;
}

/* FUSE's arguments: ours first (the store's path as the source in
 * /proc/mounts, fuse.vultfs as the type), then the user's, which may
 * override them. */
static struct fuse *make_fuse(const struct options *o, const char *store_path, struct vultfs *fs)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    char *ours = NULL;
    struct fuse *fuse = NULL;
    bool allow_other;

    if (fuse_opt_add_arg(&args, "vultfs") < 0 || fuse_opt_add_opt_escaped(&ours, store_path) < 0 ||
        fsname_prefix(&ours) < 0 || fuse_opt_add_opt(&ours, "subtype=vultfs") < 0 ||
        fuse_opt_add_arg(&args, "-o") < 0 || fuse_opt_add_arg(&args, ours) < 0)
        goto out;
    for (int i = 1; i < o->fuse.argc; i++)
        if (fuse_opt_add_arg(&args, o->fuse.argv[i]) < 0)
            goto out;
    /* vultfs answers every request itself and checks no one's identity:
     * once other users may reach the mount, the kernel must apply the
     * modes (0700 directories, 0600 shares of the mounting user) */
    if (wants_allow_other(&allow_other, o) < 0 ||
        (allow_other && fuse_opt_add_arg(&args, "-odefault_permissions") < 0))
        goto out;
    fuse = fuse_new(&args, &ops_table, sizeof(ops_table), fs);
out:
    free(ours);
    fuse_opt_free_args(&args);
    return fuse;
}

/* libfuse's own messages ("fuse: ...") go where ours go, one line each
 * however many calls it writes one in. Its levels are syslog's. */
static void log_from_fuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
    log_vpiece((int)level, fmt, ap);
}

/* In the background, refusals are logged to syslog; without a syslog
 * socket they would vanish, so say so while the terminal still shows it. */
static void say_where_logs_go(const struct options *o)
{
    if (o->foreground || o->log_file || access("/dev/log", F_OK) == 0)
        return;
    log_warn("no syslog socket (/dev/log) and no --log-file: once in the background, "
             "refusals and errors are not recorded anywhere; give --log-file F "
             "(-o log_file=F) or run with -f");
}

/* Whether this process may lock any amount of memory (CAP_IPC_LOCK, in
 * CapEff of /proc/self/status), whatever RLIMIT_MEMLOCK says. */
static bool locks_without_limit(void)
{
    FILE *status = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long caps = 0;
    bool found = false;

    while (status && !found && fgets(line, sizeof(line), status))
        found = sscanf(line, "CapEff: %llx", &caps) == 1;
    if (status)
        fclose(status);
    return found && (caps >> 14 & 1); /* CAP_IPC_LOCK */
}

/* Files being copied in are held in locked memory (staging.h), and a
 * copy that the memory-lock limit (RLIMIT_MEMLOCK, already raised to its
 * hard limit) cannot take is refused: say so at mount, while the terminal
 * still shows it, when staging may need more than the limit allows. */
static void check_memlock(const struct vultfs *fs)
{
    size_t budget = staging_budget(&fs->staging), limit = alloc_lock_limit();

    if (limit == SIZE_MAX || limit >= budget || locks_without_limit())
        return;
    log_warn("the memory-lock limit (RLIMIT_MEMLOCK) is %zu KiB, and files being copied in "
             "may need up to %zu MiB of locked memory: a copy past the limit is refused; "
             "raise it (ulimit -l, or LimitMEMLOCK= in the systemd unit)", limit >> 10,
             budget >> 20);
}

/* After fuse_daemonize: the daemon is a new process. */
static void become_daemon(struct store *store)
{
    if (log_open(1, NULL, 0) < 0) {
        /* syslog cannot fail to open; logging goes nowhere at worst */
    }
    /* it holds the store now, and the mlock of every secret did not
     * survive the fork */
    if (store_claim_lock(store) < 0)
        log_warn("cannot record the daemon's pid in the store's lock file");
    if (alloc_relock_secrets() < 0)
        log_warn("cannot lock secrets in memory (they stay out of core dumps)");
}

/* The notifier's thread starts here, in the daemon (threads do not survive
 * fuse_daemonize's fork), and stops before the unmount. */
static int run_loop(struct fuse *fuse, struct vultfs *fs, const char *mountpoint)
{
    struct fuse_loop_config *loop = fuse_loop_cfg_create();
    int ret;

    if (!loop)
        return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(loop, 0);
    if (fs->notify && (ret = notify_start(fs, fuse)) < 0)
        log_warn("no notifier thread (%s): the kernel caches nothing of the mount",
                 strerror(-ret));
    if (fs->desktop && (ret = desktop_start(fs->desktop)) < 0)
        log_warn("no desktop notifications: cannot start their thread: %s", strerror(-ret));
    log_info("serving on %s", mountpoint);
    ret = fuse_loop_mt(fuse, loop);
    notify_free(fs);
    fuse_loop_cfg_destroy(loop);
    return ret;
}

static int serve(struct fuse *fuse, struct vultfs *fs, const char *mountpoint,
                 const struct options *o)
{
    struct fuse_session *se = fuse_get_session(fuse);
    int ret;

    if (fuse_mount(fuse, mountpoint) != 0) {
        log_err("cannot mount on %s (is /dev/fuse usable?)", mountpoint);
        return 1;
    }
    say_where_logs_go(o);
    check_memlock(fs);
    if (fuse_daemonize(o->foreground) != 0) {
        log_err("cannot go to the background");
        fuse_unmount(fuse);
        return 1;
    }
    if (!o->foreground)
        become_daemon(fs->store);
    if (fuse_set_signal_handlers(se) != 0) {
        log_err("cannot set signal handlers");
        fuse_unmount(fuse);
        return 1;
    }
    ret = run_loop(fuse, fs, mountpoint);
    fuse_remove_signal_handlers(se);
    fuse_unmount(fuse);
    if (ret < 0) {
        log_err("the FUSE loop failed: %s", strerror(-ret));
        return 1;
    }
    log_info("unmounted %s", mountpoint);
    return 0;
}

static int get_passphrase(struct secret *passphrase, const struct options *o,
                          const char *store_dir)
{
    char prompt[PATH_MAX + 32];
    int ret;

    if (!o->extpass) {
        snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", store_dir);
        return cli_get_secret(passphrase, o->passphrase_file, prompt, "passphrase", 0);
    }
    ret = secret_from_command(passphrase, o->extpass);
    if (ret == -ETIMEDOUT)
        log_err("--extpass command did not end within %u s: it was stopped, and nothing "
                "is mounted", secret_wait_seconds());
    else if (ret < 0)
        log_err("--extpass command %s", ret == -ECHILD   ? "failed"
                                        : ret == -EINVAL ? "printed no passphrase"
                                                         : strerror(-ret));
    return ret;
}

/* The store, opened and set up as the options say; NULL after logging. */
static struct store *open_store(const struct options *o, const char *store_dir)
{
    struct secret passphrase = {0};
    struct store *store = NULL;

    if (get_passphrase(&passphrase, o, store_dir) < 0)
        return NULL;
    /* everything read before the store is written to (the stamp): a
     * mount that fails leaves the store as it was */
    if (cli_open_store(&store, store_dir, &passphrase,
                       o->accept_rollback ? CLI_OPEN_ACCEPT_ROLLBACK : 0) == 0 &&
        (cli_set_export(store, o->export_none, o->export_password_file, o->scheme,
                        &passphrase) < 0 ||
         cli_add_import_passwords(store, o->import_passwords) < 0 ||
         cli_stamp_exports(store) < 0)) {
        store_close(store);
        store = NULL;
    }
    secret_free(&passphrase);
    return store;
}

int cmd_mount(int argc, char **argv)
{
    struct options o;
    struct store *store = NULL;
    struct fuse *fuse = NULL;
    struct vultfs fs;
    char mountpoint[PATH_MAX], store_path[PATH_MAX];
    int ret, status = 1;

    ret = parse_mount_options(&o, argc, argv);
    if (ret) {
        options_free(&o);
        return ret == 1 ? 0 : 2;
    }
    const char *store_dir = o.operands[0];

    fuse_set_log_func(log_from_fuse);
    if (o.log_file && (ret = log_open(0, o.log_file, secret_wait_seconds())) < 0) {
        if (ret == -ENXIO)
            log_err("log file %s is a FIFO that nothing read within %u s", o.log_file,
                    secret_wait_seconds());
        else
            log_err("cannot open log file %s: %s", o.log_file, strerror(-ret));
        goto out;
    }
    if (check_mountpoint(o.operands[1], mountpoint) < 0 ||
        check_outside_store(mountpoint, store_dir) < 0)
        goto out;
    store = open_store(&o, store_dir);
    if (!store)
        goto out;
    if (!realpath(store_dir, store_path)) {
        log_err("store %s: %s", store_dir, strerror(errno));
        goto out;
    }
    vultfs_init(&fs, store, &o);
    if (notify_new(&fs) < 0)
        log_warn("no memory for the notifier: the kernel caches nothing of the mount");
    if (!o.notify_off && desktop_new(&fs.desktop) < 0)
        log_warn("no memory for desktop notifications: refusals are only logged");
    fuse = make_fuse(&o, store_path, &fs);
    if (!fuse) {
        log_err("bad FUSE options (see the line above)");
    } else {
        status = serve(fuse, &fs, mountpoint, &o);
        fuse_destroy(fuse);
    }
    notify_free(&fs);
    desktop_free(fs.desktop);
    vultfs_destroy(&fs);

out:
    store_close(store);
    options_free(&o);
    log_close();
    return status;
}
