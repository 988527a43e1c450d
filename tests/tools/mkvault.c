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

static bool str_eq(struct vult_str a, struct vult_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool is_hex(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr("0123456789abcdefABCDEF", *s))
            return false;
    return true;
}

/* First line of a file into a secret buffer (a password). */
static int read_password(char **out, size_t *out_len, const char *path)
{
    char *buf = alloc_secret(PASSWORD_MAX_BYTES + 1);
    size_t used = 0;
    int fd, ret = 0;

    if (!buf)
        return -ENOMEM;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        goto out_free;
    }
    for (;;) {
        ssize_t n = read(fd, buf + used, PASSWORD_MAX_BYTES + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            break;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > PASSWORD_MAX_BYTES) {
            ret = -EFBIG;
            break;
        }
    }
    close(fd);
    if (ret < 0)
        goto out_free;
    char *nl = memchr(buf, '\n', used);
    size_t keep = nl ? (size_t)(nl - buf) : used;
    if (keep && buf[keep - 1] == '\r')
        keep--;
    sodium_memzero(buf + keep, PASSWORD_MAX_BYTES + 1 - keep);
    if (!keep) {
        ret = -EINVAL;
        goto out_free;
    }
    *out = buf;
    *out_len = keep;
    return 0;

out_free:
    alloc_secret_free(buf);
    return ret;
}

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
    if (o->ecdsa && !is_hex(o->ecdsa))
        return fail(2, "--ecdsa must be hex, not '%s'", o->ecdsa);
    if (o->eddsa && !is_hex(o->eddsa))
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
        if (o->ecdsa && str_eq(ks->public_key, old_ecdsa))
            ks->public_key = v->public_key_ecdsa;
        else if (o->eddsa && old_eddsa.len && str_eq(ks->public_key, old_eddsa))
            ks->public_key = v->public_key_eddsa;
    }
    if (o->incomplete && v->public_key_eddsa.len) {
        size_t kept = 0;
        for (size_t i = 0; i < v->key_share_count; i++)
            if (!str_eq(v->key_shares[i].public_key, v->public_key_eddsa))
                v->key_shares[kept++] = v->key_shares[i];
        v->key_share_count = kept;
    }
    if (o->tag) {
        for (size_t i = 0; i < v->key_share_count; i++) {
            struct vult_key_share *ks = &v->key_shares[i];
            const char *kind = str_eq(ks->public_key, v->public_key_ecdsa)   ? "ecdsa"
                               : str_eq(ks->public_key, v->public_key_eddsa) ? "eddsa"
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
    const uint8_t *p = src, *end = src + src_len;
    size_t extra = 0;
    uint8_t *keep = NULL;

    for (int pass = 0; pass < 2; pass++) {
        p = src;
        while (p < end) {
            const uint8_t *field_start = p;
            uint64_t tag = 0, n = 0;
            unsigned shift = 0;
            do {
                if (p == end || shift > 63)
                    return -EINVAL;
                tag |= (uint64_t)(*p & 0x7f) << shift;
                shift += 7;
            } while (*p++ & 0x80);
            switch (tag & 7) {
            case 0:
                do {
                    if (p == end)
                        return -EINVAL;
                } while (*p++ & 0x80);
                break;
            case 1:
                n = 8;
                break;
            case 5:
                n = 4;
                break;
            case 2:
                shift = 0;
                do {
                    if (p == end || shift > 63)
                        return -EINVAL;
                    n |= (uint64_t)(*p & 0x7f) << shift;
                    shift += 7;
                } while (*p++ & 0x80);
                break;
            default:
                return -EINVAL;
            }
            if (n > (uint64_t)(end - p))
                return -EINVAL;
            p += n;
            if ((tag >> 3) <= 10)
                continue;
            if (pass == 0) {
                extra += (size_t)(p - field_start);
            } else {
                memcpy(keep + *len, field_start, (size_t)(p - field_start));
                *len += (size_t)(p - field_start);
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

int main(int argc, char **argv)
{
    struct options o;
    struct workspace ws;
    struct vult_vault v, check;
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

    if (o.from) {
        if (decode_from(&ws, &o))
            goto out;
        if (vult_vault_parse(&v, ws.from.vault_bytes, ws.from.vault_len) < 0) {
            fail(1, "%s: its Vault does not parse", o.from);
            goto out;
        }
        status = override_from(&v, &ws, &o);
    } else {
        status = build_synthetic(&v, &ws, &o);
    }
    if (status)
        goto out;
    status = 1;

    if (vult_vault_encode(&vault_bytes, &vault_len, &v) < 0) {
        fail(1, "out of memory");
        goto out;
    }
    if (o.from &&
        append_unknown_fields(&vault_bytes, &vault_len, ws.from.vault_bytes, ws.from.vault_len) < 0) {
        fail(1, "%s: cannot carry over its other Vault fields", o.from);
        goto out;
    }
    /* Never write a file vultfs itself would refuse as malformed. */
    if (vult_vault_parse(&check, vault_bytes, vault_len) < 0) {
        status = fail(2, "those options give an invalid Vault (empty name, device or signer?)");
        goto out;
    }

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
