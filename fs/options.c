#include "options.h"

#include <inttypes.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "log.h"
#include "store.h"
#include "vult.h"

enum { KEY_HELP, KEY_EXPORT_PASSWORD };

/* One option, three spellings: --long=F, --long F and -o short=F. The
 * fuse_opt value of each is its option_bit (a %s template stores no value),
 * so the table also says which bit each field answers to. */
#define OPTION_TEXT(long_name, mount_name, field, bit)                             \
    {"--" long_name "=%s", offsetof(struct options, field), bit},                  \
    {"--" long_name " %s", offsetof(struct options, field), bit},                  \
    {mount_name "=%s", offsetof(struct options, field), bit}

/* A flag: fuse_opt stores its bit in the int field, so non-zero is given. */
#define OPTION_FLAG(name, field, bit) {name, offsetof(struct options, field), bit}

static const struct fuse_opt option_table[] = {
    OPTION_TEXT("passphrase-file", "passphrase_file", passphrase_file, OPTION_PASSPHRASE_FILE),
    OPTION_TEXT("new-passphrase-file", "new_passphrase_file", new_passphrase_file,
                OPTION_NEW_PASSPHRASE_FILE),
    OPTION_TEXT("extpass", "extpass", extpass, OPTION_EXTPASS),
    OPTION_TEXT("export-password-file", "export_password_file", export_password_file,
                OPTION_EXPORT_PASSWORD_FILE),
    /* "--export-password %s" would also match --export-password-file (fuse_opt
     * applies every template that fits, and "--name %s" takes a value joined
     * on): on_option sorts that out */
    {"--export-password=%s", offsetof(struct options, export_password), OPTION_EXPORT_PASSWORD},
    {"export_password=%s", offsetof(struct options, export_password), OPTION_EXPORT_PASSWORD},
    FUSE_OPT_KEY("--export-password ", KEY_EXPORT_PASSWORD),
    OPTION_TEXT("export-scheme", "export_scheme", export_scheme, OPTION_EXPORT_SCHEME),
    OPTION_TEXT("import-passwords", "import_passwords", import_passwords,
                OPTION_IMPORT_PASSWORDS),
    OPTION_TEXT("log-file", "log_file", log_file, OPTION_LOG_FILE),
    OPTION_TEXT("max-import", "max_import", max_import_text, OPTION_MAX_IMPORT),
    OPTION_TEXT("cost", "cost", cost, OPTION_COST),
    OPTION_TEXT("epoch", "epoch", epoch_text, OPTION_EPOCH),
    OPTION_TEXT("password-file", "password_file", password_file, OPTION_PASSWORD_FILE),
    OPTION_TEXT("flush", "flush", flush_text, OPTION_FLUSH),
    OPTION_TEXT("notify", "notify", notify_text, OPTION_NOTIFY),
    OPTION_FLAG("--foreground", foreground, OPTION_FOREGROUND),
    OPTION_FLAG("-f", foreground, OPTION_FOREGROUND),
    OPTION_FLAG("--yes", yes, OPTION_YES),
    OPTION_FLAG("--json", json, OPTION_JSON),
    OPTION_FLAG("--zip", zip, OPTION_ZIP),
    OPTION_FLAG("--rekey", rekey, OPTION_REKEY),
    OPTION_FLAG("--accept-rollback", accept_rollback, OPTION_ACCEPT_ROLLBACK),
    OPTION_FLAG("accept_rollback", accept_rollback, OPTION_ACCEPT_ROLLBACK),
    OPTION_FLAG("--repair", repair, OPTION_REPAIR),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_END,
};

static bool is_key(const struct fuse_opt *opt)
{
    return opt->offset == -1U;
}

static bool is_text_option(const struct fuse_opt *opt)
{
    return !is_key(opt) && strchr(opt->templ, '%');
}

static char **text_field(struct options *o, const struct fuse_opt *opt)
{
    return (char **)((char *)o + opt->offset);
}

static bool is_given(struct options *o, const struct fuse_opt *opt)
{
    if (is_text_option(opt))
        return *text_field(o, opt) != NULL;
    return *(int *)((char *)o + opt->offset) != 0; /* a flag */
}

static int add_operand(struct options *o, const char *arg)
{
    char *copy = alloc_strndup(arg, strlen(arg));
    char **grown = alloc_resize(o->operands, (o->operand_count + 1) * sizeof(*grown));

    if (!copy || !grown) {
        alloc_free(copy);
        if (grown)
            o->operands = grown;
        return -1;
    }
    o->operands = grown;
    o->operands[o->operand_count++] = copy;
    return 0;
}

static int set_text(char **field, const char *value)
{
    char *copy = strdup(value); /* as fuse_opt's own %s: freed by options_free */

    if (!copy)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

/* --export-password VALUE reaches here as "--export-passwordVALUE". */
static int take_export_password(struct options *o, const char *arg)
{
    static const char name[] = "--export-password";

    if (strncmp(arg, "--export-password-file", 22) == 0)
        return 0; /* its own template took it */
    return set_text(&o->export_password, arg + sizeof(name) - 1);
}

/* fuse_opt's callback: keys, operands, and what no template matched. */
static int on_option(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    struct options *o = data;

    (void)outargs;
    switch (key) {
    case KEY_HELP:
        o->help = 1;
        return 0;
    case KEY_EXPORT_PASSWORD:
        return take_export_password(o, arg);
    case FUSE_OPT_KEY_NONOPT:
        return add_operand(o, arg);
    default:
        if (strcmp(arg, "-") == 0)
            return add_operand(o, arg); /* stdin or stdout, as an operand */
        /* -o name[=value] that is not ours: FUSE's, for a mount */
        if (arg[0] != '-' && o->keep_fuse_options)
            return 1;
        log_err("unknown option %s%s", arg[0] == '-' ? "" : "-o ", arg);
        o->bad = true;
        return 0;
    }
}

/* An option the command does not take is a usage error, as before. */
static void check_accepted(struct options *o)
{
    unsigned reported = 0;

    for (const struct fuse_opt *opt = option_table; opt->templ; opt++) {
        unsigned bit = (unsigned)opt->value;
        if (is_key(opt) || !is_given(o, opt) || (o->accepted & bit) || (reported & bit))
            continue;
        /* the first template of each is "--name=%s" or the flag "--name" */
        log_err("unknown option %.*s for this command", (int)strcspn(opt->templ, "="),
                opt->templ);
        reported |= bit;
        o->bad = true;
    }
}

/* "1048576", "512k", "2M" -> bytes; 0 when malformed (a sign, spaces,
 * another suffix or trailing bytes) or too large. The limit is checked
 * before the suffix is applied: a shift would wrap (17592186044417M is
 * 1M modulo 2^64). */
static size_t parse_size(const char *text)
{
    unsigned long long n, limit = VULT_MAX_FILE_BYTES;
    unsigned shift = 0;
    char *end;

    if (*text < '0' || *text > '9')
        return 0;
    errno = 0;
    n = strtoull(text, &end, 10);
    if (errno)
        return 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    if (*end || n > limit >> shift)
        return 0;
    return (size_t)(n << shift);
}

static uint64_t parse_epoch(const char *text)
{
    char *end;
    unsigned long long epoch;

    if (*text < '0' || *text > '9')
        return 0;
    errno = 0;
    epoch = strtoull(text, &end, 10);
    return *end || errno ? 0 : (uint64_t)epoch;
}

static int parse_flush(enum io_flush_policy *out, const char *text)
{
    static const char *const names[] = {[IO_FLUSH_AUTO] = "auto", [IO_FLUSH_FS] = "fs",
                                        [IO_FLUSH_FILES] = "files"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum io_flush_policy)i;
            return 0;
        }
    }
    log_err("--flush takes auto, fs or files, not '%s'", text);
    return -EINVAL;
}

/* The texts that have a meaning beyond themselves, checked once. */
static void convert(struct options *o)
{
    if (o->export_password && cli_parse_export_password(&o->export_none, o->export_password) < 0)
        o->bad = true;
    if (o->export_scheme && cli_parse_scheme(&o->scheme, o->export_scheme) < 0)
        o->bad = true;
    if (o->epoch_text && !(o->epoch = parse_epoch(o->epoch_text))) {
        log_err("--epoch takes a number from 1, not '%s'", o->epoch_text);
        o->bad = true;
    }
    if (o->max_import_text && !(o->max_import = parse_size(o->max_import_text))) {
        log_err("bad max_import '%s': give a size from 1 byte to %zu bytes (%zuM), as "
                "digits with an optional k or M suffix", o->max_import_text,
                (size_t)VULT_MAX_FILE_BYTES, (size_t)VULT_MAX_FILE_BYTES >> 20);
        o->bad = true;
    }
    if (o->flush_text && parse_flush(&o->flush, o->flush_text) < 0)
        o->bad = true;
    if (o->notify_text && strcmp(o->notify_text, "yes") != 0 && strcmp(o->notify_text, "no") != 0) {
        log_err("--notify takes yes or no, not '%s'", o->notify_text);
        o->bad = true;
    }
    o->notify_off = o->notify_text && strcmp(o->notify_text, "no") == 0;
}

enum options_status options_parse(struct options *o, int argc, char **argv, unsigned accepted,
                                  size_t operands_min, size_t operands_max,
                                  bool keep_fuse_options)
{
    memset(o, 0, sizeof(*o));
    o->scheme = BACKUP_CRYPTO_CURRENT;
    o->max_import = STORE_DEFAULT_MAX_IMPORT;
    o->accepted = accepted;
    o->keep_fuse_options = keep_fuse_options;
    o->fuse = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
    if (fuse_opt_parse(&o->fuse, o, option_table, on_option) < 0)
        return OPTIONS_USAGE; /* fuse_opt said why, through the log */
    if (o->help)
        return OPTIONS_HELP;
    check_accepted(o);
    if (!o->bad)
        convert(o);
    if (o->bad)
        return OPTIONS_USAGE;
    if (o->operand_count < operands_min || o->operand_count > operands_max)
        return OPTIONS_USAGE;
    io_set_flush_policy(o->flush);
    return OPTIONS_OK;
}

void options_free(struct options *o)
{
    for (const struct fuse_opt *opt = option_table; opt->templ; opt++) {
        if (!is_text_option(opt))
            continue;
        char **field = text_field(o, opt);
        free(*field); /* fuse_opt made them with strdup */
        *field = NULL;
    }
    for (size_t i = 0; i < o->operand_count; i++)
        alloc_free(o->operands[i]);
    alloc_free(o->operands);
    o->operands = NULL;
    o->operand_count = 0;
    fuse_opt_free_args(&o->fuse);
}

int options_run(int argc, char **argv, const char *usage, unsigned accepted,
                size_t operands_min, size_t operands_max, int (*run)(const struct options *o))
{
    struct options o;
    int status;

    switch (options_parse(&o, argc, argv, accepted, operands_min, operands_max, false)) {
    case OPTIONS_HELP:
        fputs(usage, stdout);
        status = 0;
        break;
    case OPTIONS_USAGE:
        if (!o.bad)
            fputs(usage, stderr);
        status = 2;
        break;
    default:
        status = run(&o);
        break;
    }
    options_free(&o);
    return status;
}
