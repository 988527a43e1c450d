/*
 * mkvault: writes SYNTHETIC Vultisig backup files for tests and the demo.
 *
 * Every key share it makes is fake and says so (it holds "FAKEKEYSHARE",
 * as tests/unit/synth.h writes it), so nothing it writes can
 * sign anything. Two modes:
 *
 *   - a synthetic vault from the options (defaults below);
 *   - --from FILE: an existing backup, decoded, with only the fields given
 *     on the command line changed, then encoded again. That is how tests
 *     make a reshare (--prefix for GG20, --signers for DKLS), another
 *     device's share (--device) or a conflicting share (--tag: every key
 *     share replaced by fake bytes tagged T). Vault fields this codec does
 *     not know (chain_public_keys, ...) are carried over unchanged.
 *
 * The output is unencrypted unless --password-file is given. Passwords come
 * from files only, never from argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../unit/synth.h" /* SYNTH_ECDSA, SYNTH_EDDSA and the fake-share text */
#include "alloc.h"
#include "backup_crypto.h"
#include "io.h"
#include "pb.h"
#include "vult.h"

#define PASSWORD_MAX_BYTES 4096

static const char usage_text[] =
    "usage: mkvault [OPTIONS] OUT\n"
    "\n"
    "Writes a SYNTHETIC Vultisig backup (.vult) with fake key shares, for tests\n"
    "and demos. Nothing it writes can sign anything.\n"
    "\n"
    "  --name N               vault name (default \"Demo Vault (synthetic)\")\n"
    "  --device D             local_party_id (default \"demo-device-1\")\n"
    "  --signers a,b,c        signers (default \"demo-device-1,demo-device-2\")\n"
    "  --ecdsa HEX            ECDSA public key (default a fixed fake key)\n"
    "  --eddsa HEX            EdDSA public key (default a fixed fake key)\n"
    "  --prefix P             reshare_prefix (GG20 reshares; default empty)\n"
    "  --lib gg20|dkls|keyimport   lib_type (default dkls)\n"
    "  --tag T                vary the fake key shares (a conflicting share)\n"
    "  --incomplete           leave out the EdDSA key share\n"
    "  --from FILE            start from an existing backup; change only the\n"
    "                         fields given (--tag replaces every key share)\n"
    "  --from-password-file F password of the --from file (first line of F)\n"
    "  --password-file F      encrypt the output with the first line of F\n"
    "  --scheme legacy|current     encryption scheme (default current)\n"
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 written, 1 failed, 2 usage error.\n";

struct options {
    const char *name, *device, *signers, *ecdsa, *eddsa, *prefix, *tag;
    const char *from, *from_password_file, *password_file, *out;
    int lib; /* -1: not given */
    int scheme; /* -1: not given */
    bool incomplete;
};

/* Holds everything the assembled vault's views point into. */
struct workspace {
    struct vult_file from;     /* decoded --from file */
    char *signer_text;         /* writable copy of --signers, split at ',' */
    char *fake_shares[VULT_MAX_KEY_SHARES];
};

/* One line to stderr; returns status so callers can `return fail(...)`. */
static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...)
{
    va_list ap;
    fputs("mkvault: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static struct vult_str str_of(const char *s)
{
    return (struct vult_str){s, strlen(s)};
}

/* First line of a file (a password), in secret memory. */
static int read_password(char **out, size_t *out_len, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int ret = io_read_secret(&buf, &len, AT_FDCWD, path, PASSWORD_MAX_BYTES);

    if (ret < 0)
        return ret;
    char *text = (char *)buf;
    char *nl = memchr(text, '\n', len);
    size_t keep = nl ? (size_t)(nl - text) : len;
    if (keep && text[keep - 1] == '\r')
        keep--;
    if (!keep) {
        alloc_secret_free(buf);
        return -EINVAL;
    }
    /* room for the NUL: io_read_secret's buffer is exactly the file */
    char *copy = alloc_secret(keep + 1);
    if (!copy) {
        alloc_secret_free(buf);
        return -ENOMEM;
    }
    memcpy(copy, text, keep);
    copy[keep] = '\0';
    alloc_secret_free(buf);
    *out = copy;
    *out_len = keep;
    return 0;
}

/* One getopt table and one case per option, then the checks that span
 * options: long, but a list to read down, not logic to follow. */
static int parse_options(struct options *o, int argc, char **argv)
{
    enum { O_NAME = 256, O_DEVICE, O_SIGNERS, O_ECDSA, O_EDDSA, O_PREFIX, O_LIB, O_TAG,
           O_INCOMPLETE, O_FROM, O_FROM_PW, O_PW, O_SCHEME };
    static const struct option longopts[] = {
        {"name", required_argument, NULL, O_NAME},
        {"device", required_argument, NULL, O_DEVICE},
        {"signers", required_argument, NULL, O_SIGNERS},
        {"ecdsa", required_argument, NULL, O_ECDSA},
        {"eddsa", required_argument, NULL, O_EDDSA},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"lib", required_argument, NULL, O_LIB},
        {"tag", required_argument, NULL, O_TAG},
        {"incomplete", no_argument, NULL, O_INCOMPLETE},
        {"from", required_argument, NULL, O_FROM},
        {"from-password-file", required_argument, NULL, O_FROM_PW},
        {"password-file", required_argument, NULL, O_PW},
        {"scheme", required_argument, NULL, O_SCHEME},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    o->lib = -1;
    o->scheme = -1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_NAME: o->name = optarg; break;
        case O_DEVICE: o->device = optarg; break;
        case O_SIGNERS: o->signers = optarg; break;
        case O_ECDSA: o->ecdsa = optarg; break;
        case O_EDDSA: o->eddsa = optarg; break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_TAG: o->tag = optarg; break;
        case O_INCOMPLETE: o->incomplete = true; break;
        case O_FROM: o->from = optarg; break;
        case O_FROM_PW: o->from_password_file = optarg; break;
        case O_PW: o->password_file = optarg; break;
        case O_LIB:
            if (strcmp(optarg, "gg20") == 0)
                o->lib = VULT_LIB_GG20;
            else if (strcmp(optarg, "dkls") == 0)
                o->lib = VULT_LIB_DKLS;
            else if (strcmp(optarg, "keyimport") == 0)
                o->lib = VULT_LIB_KEYIMPORT;
            else
                return fail(2, "--lib must be gg20, dkls or keyimport, not '%s'", optarg);
            break;
        case O_SCHEME:
            if (strcmp(optarg, "legacy") == 0)
                o->scheme = BACKUP_CRYPTO_LEGACY;
            else if (strcmp(optarg, "current") == 0)
                o->scheme = BACKUP_CRYPTO_CURRENT;
            else
                return fail(2, "--scheme must be legacy or current, not '%s'", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        default:
            return fail(2, "option %s is unknown or needs a value (see --help)",
                        argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return fail(2, "give exactly one OUT file, after the options (see --help)");
    o->out = argv[optind];
    if (o->ecdsa && (!*o->ecdsa || !vult_str_is_hex(str_of(o->ecdsa))))
        return fail(2, "--ecdsa must be hex, not '%s'", o->ecdsa);
    if (o->eddsa && (!*o->eddsa || !vult_str_is_hex(str_of(o->eddsa))))
        return fail(2, "--eddsa must be hex, not '%s'", o->eddsa);
    if (o->name && !*o->name)
        return fail(2, "--name must not be empty");
    if (o->device && !*o->device)
        return fail(2, "--device must not be empty");
    if (o->scheme >= 0 && !o->password_file)
        return fail(2, "--scheme needs --password-file (passwords come from files only)");
    if (o->from_password_file && !o->from)
        return fail(2, "--from-password-file needs --from");
    if (o->password_file && o->scheme < 0)
        o->scheme = BACKUP_CRYPTO_CURRENT;
    if (o->scheme < 0)
        o->scheme = BACKUP_CRYPTO_NONE;
    return 0;
}

/* Splits --signers into the vault's signer views. */
static int set_signers(struct vult_vault *v, struct workspace *ws, const char *list)
{
    ws->signer_text = strdup(list);
    if (!ws->signer_text)
        return fail(1, "out of memory");
    v->signer_count = 0;
    char *rest = ws->signer_text;
    for (;;) {
        char *comma = strchr(rest, ',');
        if (comma)
            *comma = '\0';
        if (!*rest)
            return fail(2, "--signers '%s' has an empty entry", list);
        if (v->signer_count == VULT_MAX_SIGNERS)
            return fail(2, "--signers '%s' lists too many signers", list);
        v->signers[v->signer_count++] = str_of(rest);
        if (!comma)
            return 0;
        rest = comma + 1;
    }
}

/* Fake key share text, as tests/unit/synth.h writes it. */
static int fake_share(struct workspace *ws, size_t i, const char *kind, const struct vult_vault *v,
                      const char *tag)
{
    int n = snprintf(NULL, 0, "%s %.*s %.*s %s", kind, (int)v->name.len, v->name.ptr,
                     (int)v->local_party_id.len, v->local_party_id.ptr, tag ? tag : "");
    size_t cap = 2 * (size_t)n + 64;
    char *text = malloc((size_t)n + 1);

    ws->fake_shares[i] = malloc(cap);
    if (!text || !ws->fake_shares[i]) {
        free(text);
        return fail(1, "out of memory");
    }
    snprintf(text, (size_t)n + 1, "%s %.*s %.*s %s", kind, (int)v->name.len, v->name.ptr,
             (int)v->local_party_id.len, v->local_party_id.ptr, tag ? tag : "");
    n = synth_fake_share(ws->fake_shares[i], cap, (unsigned)v->lib_type, text);
    free(text);
    return n < 0 ? fail(1, "fake key share too long") : 0;
}

static int build_synthetic(struct vult_vault *v, struct workspace *ws, const struct options *o)
{
    memset(v, 0, sizeof(*v));
    v->name = str_of(o->name ? o->name : "Demo Vault (synthetic)");
    v->local_party_id = str_of(o->device ? o->device : "demo-device-1");
    int ret = set_signers(v, ws, o->signers ? o->signers : "demo-device-1,demo-device-2");
    if (ret)
        return ret;
    v->public_key_ecdsa = str_of(o->ecdsa ? o->ecdsa : SYNTH_ECDSA);
    v->public_key_eddsa = str_of(o->eddsa ? o->eddsa : SYNTH_EDDSA);
    v->created_at_seconds = 1714564800; /* 2024-05-01T12:00:00Z, as synth.h */
    v->hex_chain_code = str_of("c0de00000000000000000000000000000000000000000000000000000000c0de");
    v->reshare_prefix = str_of(o->prefix ? o->prefix : "");
    v->lib_type = o->lib >= 0 ? (uint64_t)o->lib : VULT_LIB_DKLS;

    if (fake_share(ws, 0, "ecdsa", v, o->tag))
        return 1;
    v->key_shares[0] = (struct vult_key_share){v->public_key_ecdsa, str_of(ws->fake_shares[0])};
    v->key_share_count = 1;
    if (!o->incomplete) {
        if (fake_share(ws, 1, "eddsa", v, o->tag))
            return 1;
        v->key_shares[1] =
            (struct vult_key_share){v->public_key_eddsa, str_of(ws->fake_shares[1])};
        v->key_share_count = 2;
    }
    return 0;
}

static int decode_from(struct workspace *ws, const struct options *o)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char *password = NULL;
    size_t password_len = 0;
    struct vult_password candidate = {NULL, 0};
    int ret, status = 1;

    ret = io_read_file(&bytes, &len, AT_FDCWD, o->from, VULT_MAX_FILE_BYTES);
    if (ret < 0) {
        fprintf(stderr, "mkvault: cannot read %s: %s\n", o->from, strerror(-ret));
        return 1;
    }
    if (o->from_password_file) {
        ret = read_password(&password, &password_len, o->from_password_file);
        if (ret < 0) {
            fprintf(stderr, "mkvault: cannot read password file %s: %s\n",
                    o->from_password_file, ret == -EINVAL ? "it is empty" : strerror(-ret));
            goto out_free;
        }
        candidate = (struct vult_password){password, password_len};
    }
    ret = vult_decode(&ws->from, bytes, len, &candidate, password ? 1 : 0, NULL);
    if (ret == -EACCES)
        fprintf(stderr, "mkvault: %s: %s\n", o->from,
                password ? "wrong password (--from-password-file)"
                         : "encrypted: give its password with --from-password-file");
    else if (ret < 0)
        fprintf(stderr, "mkvault: %s: not a readable Vultisig backup (%s)\n", o->from,
                strerror(-ret));
    else
        status = 0;
out_free:
    alloc_secret_free(password);
    alloc_free(bytes);
    return status;
}

/* Applies the options given to a vault parsed from --from. */
static int override_from(struct vult_vault *v, struct workspace *ws, const struct options *o)
{
    struct vult_str old_ecdsa = v->public_key_ecdsa, old_eddsa = v->public_key_eddsa;

    if (o->name)
        v->name = str_of(o->name);
    if (o->device)
        v->local_party_id = str_of(o->device);
    if (o->signers) {
        int ret = set_signers(v, ws, o->signers);
        if (ret)
            return ret;
    }
    if (o->prefix)
        v->reshare_prefix = str_of(o->prefix);
    if (o->lib >= 0)
        v->lib_type = (uint64_t)o->lib;
    if (o->ecdsa)
        v->public_key_ecdsa = str_of(o->ecdsa);
    if (o->eddsa)
        v->public_key_eddsa = str_of(o->eddsa);
    /* Key shares follow their public key when it is replaced. */
    for (size_t i = 0; i < v->key_share_count; i++) {
        struct vult_key_share *ks = &v->key_shares[i];
        if (o->ecdsa && vult_str_eq(ks->public_key, old_ecdsa))
            ks->public_key = v->public_key_ecdsa;
        else if (o->eddsa && old_eddsa.len && vult_str_eq(ks->public_key, old_eddsa))
            ks->public_key = v->public_key_eddsa;
    }
    if (o->incomplete && v->public_key_eddsa.len) {
        size_t kept = 0;
        for (size_t i = 0; i < v->key_share_count; i++)
            if (!vult_str_eq(v->key_shares[i].public_key, v->public_key_eddsa))
                v->key_shares[kept++] = v->key_shares[i];
        v->key_share_count = kept;
    }
    if (o->tag) {
        for (size_t i = 0; i < v->key_share_count; i++) {
            struct vult_key_share *ks = &v->key_shares[i];
            const char *kind = vult_str_eq(ks->public_key, v->public_key_ecdsa)   ? "ecdsa"
                               : vult_str_eq(ks->public_key, v->public_key_eddsa) ? "eddsa"
                                                                             : "other";
            if (fake_share(ws, i, kind, v, o->tag))
                return 1;
            ks->keyshare = str_of(ws->fake_shares[i]);
        }
    }
    return 0;
}

/* The Vault fields past lib_type (10) that vult_vault_encode does not write,
 * copied verbatim from src and appended to *bytes: a re-encoded share keeps
 * chain_public_keys and the newer public keys, as a real reshare does. */
static int append_unknown_fields(uint8_t **bytes, size_t *len, const uint8_t *src,
                                 size_t src_len)
{
    size_t extra = 0;
    uint8_t *keep = NULL;

    /* two passes: size the fields to keep, then copy them */
    for (int pass = 0; pass < 2; pass++) {
        struct pb_reader r = {src, src + src_len};
        for (;;) {
            const uint8_t *field_start = r.pos;
            uint32_t field;
            enum pb_wire type;
            if (pb_read_tag(&r, &field, &type) < 0)
                return -EINVAL;
            if (field == 0)
                break;
            if (pb_skip(&r, type) < 0)
                return -EINVAL;
            if (field <= 10)
                continue;
            if (pass == 0) {
                extra += (size_t)(r.pos - field_start);
            } else {
                memcpy(keep + *len, field_start, (size_t)(r.pos - field_start));
                *len += (size_t)(r.pos - field_start);
            }
        }
        if (pass == 0) {
            if (!extra)
                return 0;
            keep = alloc_secret(*len + extra);
            if (!keep)
                return -ENOMEM;
            memcpy(keep, *bytes, *len);
        }
    }
    alloc_secret_free(*bytes);
    *bytes = keep;
    return 0;
}

/* The Vault bytes to write: from --from with the options applied, or
 * synthetic; never bytes vultfs itself would refuse. Returns an exit
 * status (0: *bytes is alloc_secret). */
static int make_vault(uint8_t **bytes, size_t *len, struct workspace *ws,
                      const struct options *o)
{
    struct vult_vault v, check;
    int status;

    if (o->from) {
        if (decode_from(ws, o))
            return 1;
        if (vult_vault_parse(&v, ws->from.vault_bytes, ws->from.vault_len) < 0)
            return fail(1, "%s: its Vault does not parse", o->from);
        status = override_from(&v, ws, o);
    } else {
        status = build_synthetic(&v, ws, o);
    }
    if (status)
        return status;
    if (vult_vault_encode(bytes, len, &v) < 0)
        return fail(1, "out of memory");
    if (o->from &&
        append_unknown_fields(bytes, len, ws->from.vault_bytes, ws->from.vault_len) < 0)
        return fail(1, "%s: cannot carry over its other Vault fields", o->from);
    /* Never write a file vultfs itself would refuse as malformed. */
    if (vult_vault_parse(&check, *bytes, *len) < 0)
        return fail(2, "those options give an invalid Vault (empty name, device or signer?)");
    return 0;
}

static int write_out(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "mkvault: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t done = fwrite(text, 1, len, f);
    int err = done == len ? 0 : errno;
    if (fclose(f) != 0 && !err)
        err = errno;
    if (err || done != len) {
        fprintf(stderr, "mkvault: cannot write %s: %s\n", path, strerror(err ? err : EIO));
        return 1;
    }
    return 0;
}

/* The steps in order (options, password, Vault, encryption, file) with one
 * cleanup that wipes every secret: longer than 60 lines, read top down. */
int main(int argc, char **argv)
{
    struct options o;
    struct workspace ws;
    enum backup_crypto_scheme scheme;
    uint8_t *vault_bytes = NULL;
    size_t vault_len = 0;
    char *password = NULL, *text = NULL;
    size_t password_len = 0, text_len = 0;
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES], nonce[BACKUP_CRYPTO_NONCE_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES] = {0};
    int ret, status;

    memset(&ws, 0, sizeof(ws));
    status = parse_options(&o, argc, argv);
    if (status)
        return status;
    if (backup_crypto_init() < 0)
        return fail(1, "this CPU lacks AES-256-GCM (AES-NI and PCLMUL)");

    status = 1;
    if (o.password_file) {
        ret = read_password(&password, &password_len, o.password_file);
        if (ret < 0) {
            fprintf(stderr, "mkvault: cannot read password file %s: %s\n", o.password_file,
                    ret == -EINVAL ? "it is empty" : strerror(-ret));
            goto out;
        }
    }

    status = make_vault(&vault_bytes, &vault_len, &ws, &o);
    if (status)
        goto out;
    status = 1;

    scheme = (enum backup_crypto_scheme)o.scheme;
    if (scheme != BACKUP_CRYPTO_NONE) {
        randombytes_buf(salt, sizeof(salt));
        randombytes_buf(nonce, sizeof(nonce));
        if (scheme == BACKUP_CRYPTO_LEGACY)
            backup_crypto_key_legacy(key, (const uint8_t *)password, password_len);
        else
            backup_crypto_key_current(key, (const uint8_t *)password, password_len, salt);
    }
    text_len = vult_encoded_len(vault_len, scheme);
    text = alloc_secret(text_len);
    if (!text) {
        fail(1, "out of memory");
        goto out;
    }
    ret = vult_encode(text, text_len, vault_bytes, vault_len, scheme, salt, nonce, key);
    sodium_memzero(key, sizeof(key));
    if (ret < 0) {
        fail(1, "cannot encode the backup: %s", strerror(-ret));
        goto out;
    }
    status = write_out(o.out, text, text_len);

out:
    sodium_memzero(key, sizeof(key));
    alloc_secret_free(text);
    alloc_secret_free(vault_bytes);
    alloc_secret_free(password);
    vult_file_clear(&ws.from);
    free(ws.signer_text);
    for (size_t i = 0; i < VULT_MAX_KEY_SHARES; i++)
        free(ws.fake_shares[i]);
    return status;
}
