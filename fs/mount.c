/*
 * vultfs mount: opens the store and serves it through FUSE. Everything
 * that can fail for a reason the user should see (options, the mountpoint,
 * the passphrase, the store) happens before daemonizing, so the error
 * shows in the terminal as one line.
 */
#include "ops.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "backup_crypto.h"
#include "cli.h"
#include "commands.h"
#include "log.h"
#include "store.h"

static const char mount_usage[] =
    "usage: vultfs mount [OPTIONS] STORE MOUNTPOINT\n"
    "\n"
    "Shows the store's vaults as directories at MOUNTPOINT; writing a .vult\n"
    "file into it imports the file. Unmount with: fusermount3 -u MOUNTPOINT\n"
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
    "  -f, --foreground             stay in the foreground, log to stderr\n"
    "  -o OPTS                      FUSE mount options, comma-separated, and\n"
    "                               max_import=N (bytes, k/M suffix; default 1M)\n"
    "  -h, --help                   this text\n";

enum {
    OPT_PASSPHRASE_FILE = 256,
    OPT_EXTPASS,
    OPT_EXPORT_PASSWORD_FILE,
    OPT_EXPORT_PASSWORD,
    OPT_EXPORT_SCHEME,
    OPT_IMPORT_PASSWORDS,
    OPT_LOG_FILE,
};

struct mount_options {
    const char *passphrase_file, *extpass;
    const char *export_password_file;
    bool export_none;
    enum backup_crypto_scheme scheme;
    const char *import_passwords;
    const char *log_file;
    bool foreground;
    size_t max_import;
    char *fuse_opts; /* alloc_bytes, comma-separated, or NULL */
};

/* "1048576", "512k", "2M" -> bytes; 0 when malformed. */
static size_t parse_size(const char *text)
{
    char *end;
    unsigned long long n;

    if (!*text || *text == '-')
        return 0;
    errno = 0;
    n = strtoull(text, &end, 10);
    if (errno)
        return 0;
    if (*end == 'k' || *end == 'K')
        n <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        n <<= 20, end++;
    if (*end || n > VULT_MAX_FILE_BYTES)
        return 0;
    return (size_t)n;
}

/* Splits one -o argument: max_import is ours, the rest goes to FUSE. */
static int take_fuse_opts(struct mount_options *o, const char *arg)
{
    char *copy = alloc_strndup(arg, strlen(arg));
    char *save = NULL;

    if (!copy)
        return -ENOMEM;
    for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
        if (strncmp(opt, "max_import=", 11) == 0) {
            o->max_import = parse_size(opt + 11);
            if (!o->max_import) {
                log_err("bad -o max_import=%s: give a size in bytes (k and M suffixes work), "
                        "at most %u", opt + 11, VULT_MAX_FILE_BYTES);
                alloc_free(copy);
                return -EINVAL;
            }
            continue;
        }
        size_t have = o->fuse_opts ? strlen(o->fuse_opts) : 0;
        char *grown = alloc_resize(o->fuse_opts, have + strlen(opt) + 2);
        if (!grown) {
            alloc_free(copy);
            return -ENOMEM;
        }
        if (have)
            grown[have++] = ',';
        strcpy(grown + have, opt);
        o->fuse_opts = grown;
    }
    alloc_free(copy);
    return 0;
}

/* 0, 1 (help printed) or 2 (usage error, reported). */
static int parse_options(struct mount_options *o, int argc, char **argv)
{
    static const struct option options[] = {
        {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
        {"extpass", required_argument, NULL, OPT_EXTPASS},
        {"export-password-file", required_argument, NULL, OPT_EXPORT_PASSWORD_FILE},
        {"export-password", required_argument, NULL, OPT_EXPORT_PASSWORD},
        {"export-scheme", required_argument, NULL, OPT_EXPORT_SCHEME},
        {"import-passwords", required_argument, NULL, OPT_IMPORT_PASSWORDS},
        {"log-file", required_argument, NULL, OPT_LOG_FILE},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "fo:h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_PASSPHRASE_FILE:
            o->passphrase_file = optarg;
            break;
        case OPT_EXTPASS:
            o->extpass = optarg;
            break;
        case OPT_EXPORT_PASSWORD_FILE:
            o->export_password_file = optarg;
            break;
        case OPT_EXPORT_PASSWORD:
            if (cli_parse_export_password(&o->export_none, optarg) < 0)
                return 2;
            break;
        case OPT_EXPORT_SCHEME:
            if (cli_parse_scheme(&o->scheme, optarg) < 0)
                return 2;
            break;
        case OPT_IMPORT_PASSWORDS:
            o->import_passwords = optarg;
            break;
        case OPT_LOG_FILE:
            o->log_file = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'o':
            if (take_fuse_opts(o, optarg) < 0)
                return 2;
            break;
        case 'h':
            fputs(mount_usage, stdout);
            return 1;
        default:
            fputs(mount_usage, stderr);
            return 2;
        }
    }
    if (optind != argc - 2) {
        fputs(mount_usage, stderr);
        return 2;
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

static int check_mountpoint(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        log_err("mountpoint %s: %s", path, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_err("mountpoint %s: not a directory", path);
        return -ENOTDIR;
    }
    return 0;
}

static struct fuse *make_fuse(const struct mount_options *o)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse *fuse = NULL;

    if (fuse_opt_add_arg(&args, "vultfs") < 0 ||
        fuse_opt_add_arg(&args, "-o") < 0 ||
        fuse_opt_add_arg(&args, "fsname=vultfs,subtype=vultfs") < 0)
        goto out;
    /* the user's options last: they may override ours */
    if (o->fuse_opts && (fuse_opt_add_arg(&args, "-o") < 0 ||
                         fuse_opt_add_arg(&args, o->fuse_opts) < 0))
        goto out;
    fuse = fuse_new(&args, &ops_table, sizeof(ops_table), NULL);
out:
    fuse_opt_free_args(&args);
    return fuse;
}

static int serve(struct fuse *fuse, struct store *store, const char *mountpoint,
                 const struct mount_options *o)
{
    struct fuse_session *se = fuse_get_session(fuse);
    struct fuse_loop_config *loop = NULL;
    int ret;

    if (fuse_mount(fuse, mountpoint) != 0) {
        log_err("cannot mount on %s (is it already a mountpoint, and is /dev/fuse usable?)",
                mountpoint);
        return 1;
    }
    if (fuse_daemonize(o->foreground) != 0) {
        log_err("cannot go to the background");
        fuse_unmount(fuse);
        return 1;
    }
    if (!o->foreground) {
        if (log_open(1, NULL) < 0) {
            /* syslog cannot fail to open; logging goes nowhere at worst */
        }
        /* the daemon is a new process: it holds the store now, and the
         * mlock of every secret did not survive the fork */
        if (store_claim_lock(store) < 0)
            log_warn("cannot record the daemon's pid in the store's lock file");
        if (alloc_relock_secrets() < 0)
            log_warn("cannot lock secrets in memory (they stay out of core dumps)");
    }
    if (fuse_set_signal_handlers(se) != 0) {
        log_err("cannot set signal handlers");
        fuse_unmount(fuse);
        return 1;
    }
    loop = fuse_loop_cfg_create();
    if (!loop) {
        ret = -ENOMEM;
    } else {
        fuse_loop_cfg_set_clone_fd(loop, 0);
        log_info("serving on %s", mountpoint);
        ret = fuse_loop_mt(fuse, loop);
        fuse_loop_cfg_destroy(loop);
    }
    fuse_remove_signal_handlers(se);
    fuse_unmount(fuse);
    if (ret < 0) {
        log_err("the FUSE loop failed: %s", strerror(-ret));
        return 1;
    }
    log_info("unmounted %s", mountpoint);
    return 0;
}

int cmd_mount(int argc, char **argv)
{
    struct mount_options o = {.scheme = BACKUP_CRYPTO_CURRENT,
                              .max_import = STORE_DEFAULT_MAX_IMPORT};
    struct secret passphrase = {0};
    struct store *store = NULL;
    struct fuse *fuse = NULL;
    char mountpoint[PATH_MAX];
    int ret, status = 1;

    ret = parse_options(&o, argc, argv);
    if (ret) {
        alloc_free(o.fuse_opts);
        return ret == 1 ? 0 : 2;
    }
    const char *store_dir = argv[optind];
    const char *mount_arg = argv[optind + 1];

    if (o.log_file && (ret = log_open(0, o.log_file)) < 0) {
        log_err("cannot open log file %s: %s", o.log_file, strerror(-ret));
        goto out;
    }
    if (check_mountpoint(mount_arg) < 0)
        goto out;
    /* the daemon runs in /: a relative mountpoint would not unmount */
    if (!realpath(mount_arg, mountpoint)) {
        log_err("mountpoint %s: %s", mount_arg, strerror(errno));
        goto out;
    }

    if (o.extpass) {
        ret = secret_from_command(&passphrase, o.extpass);
        if (ret < 0) {
            log_err("--extpass command %s", ret == -ECHILD ? "failed"
                                            : ret == -EINVAL ? "printed no passphrase"
                                                             : strerror(-ret));
            goto out;
        }
    } else {
        char prompt[PATH_MAX + 32];
        snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", store_dir);
        if (cli_get_secret(&passphrase, o.passphrase_file, prompt, "passphrase", 0) < 0)
            goto out;
    }
    if (cli_open_store(&store, store_dir, &passphrase) < 0)
        goto out;
    if (cli_set_export(store, o.export_none, o.export_password_file, o.scheme, &passphrase) < 0 ||
        cli_add_import_passwords(store, o.import_passwords) < 0)
        goto out;
    secret_free(&passphrase);

    ops_setup(store, o.max_import);
    fuse = make_fuse(&o);
    if (!fuse) {
        log_err("bad FUSE options%s%s", o.fuse_opts ? ": " : "", o.fuse_opts ? o.fuse_opts : "");
        goto out;
    }
    status = serve(fuse, store, mountpoint, &o);
    fuse_destroy(fuse);
    ops_shutdown();

out:
    secret_free(&passphrase);
    store_close(store);
    alloc_free(o.fuse_opts);
    log_close();
    return status;
}
