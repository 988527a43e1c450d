/*
 * vultfs inspect: the public facts of one backup file, as JSON. Key share
 * material is never printed, only counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "cli.h"
#include "completeness.h"
#include "commands.h"
#include "dat.h"
#include "io.h"
#include "log.h"
#include "options.h"
#include "vult.h"

const char inspect_usage[] =
    "usage: vultfs inspect [--password-file F] FILE.vult\n"
    "\n"
    "Prints the public facts of a Vultisig backup (.vult or .bak) as JSON.\n"
    "An encrypted file needs its password: from F (first line), else asked\n"
    "on the terminal.\n";

static json_t *json_str(struct vult_str s)
{
    return json_stringn_nocheck(s.ptr ? s.ptr : "", s.len);
}

static json_t *facts_json(const struct vult_file *file, const struct vult_vault *vault)
{
    char created[64];
    const char *lib = vult_lib_type_name(vault->lib_type);
    char *suggested = vult_suggested_filename(vault);
    json_t *signers = json_array();
    json_t *obj = json_object();

    for (size_t i = 0; i < vault->signer_count; i++)
        json_array_append_new(signers, json_str(vault->signers[i]));
    vult_format_time(created, sizeof(created), vault->created_at_seconds,
                     vault->created_at_nanos);

    json_object_set_new(obj, "name", json_str(vault->name));
    json_object_set_new(obj, "public_key_ecdsa", json_str(vault->public_key_ecdsa));
    json_object_set_new(obj, "public_key_eddsa", json_str(vault->public_key_eddsa));
    json_object_set_new(obj, "signers", signers);
    json_object_set_new(obj, "local_party_id", json_str(vault->local_party_id));
    json_object_set_new(obj, "reshare_prefix", json_str(vault->reshare_prefix));
    json_object_set_new(obj, "lib_type", lib ? json_string(lib) : json_integer((json_int_t)vault->lib_type));
    json_object_set_new(obj, "created_at", json_string(created));
    json_object_set_new(obj, "hex_chain_code", json_str(vault->hex_chain_code));
    if (vault->public_key_mldsa44.len)
        json_object_set_new(obj, "public_key_mldsa44", json_str(vault->public_key_mldsa44));
    if (vault->public_key_frozt.len)
        json_object_set_new(obj, "public_key_frozt", json_str(vault->public_key_frozt));
    if (vault->public_key_fromt.len)
        json_object_set_new(obj, "public_key_fromt", json_str(vault->public_key_fromt));
    if (vault->chain_count) {
        json_t *chains = json_array();
        for (size_t i = 0; i < vault->chain_count; i++)
            json_array_append_new(chains,
                                  json_pack("{s:o, s:o, s:b}", "chain",
                                            json_str(vault->chains[i].chain), "public_key",
                                            json_str(vault->chains[i].public_key), "is_eddsa",
                                            vault->chains[i].is_eddsa));
        json_object_set_new(obj, "chains", chains);
    }
    json_object_set_new(obj, "key_shares", json_integer((json_int_t)vault->key_share_count));
    struct completeness gap = completeness_of(vault);
    json_object_set_new(obj, "complete", json_boolean(gap.gap == COMPLETENESS_OK));
    if (gap.gap != COMPLETENESS_OK) {
        char why[256];
        completeness_describe(why, sizeof(why), &gap);
        json_object_set_new(obj, "incomplete", json_string(why));
    }
    json_object_set_new(obj, "encrypted", json_boolean(file->scheme != BACKUP_CRYPTO_NONE));
    json_object_set_new(obj, "scheme", json_string(backup_crypto_scheme_name(file->scheme)));
    json_object_set_new(obj, "version", json_integer((json_int_t)file->version));
    json_object_set_new(obj, "suggested_filename", suggested ? json_string(suggested) : json_null());
    alloc_free(suggested);
    return obj;
}

/* Decodes bytes (read from path) into *file; logs why not. Unencrypted
 * files need no password: without --password-file they are tried without
 * one first, and the terminal asked only when that fails; with it, its
 * password is the only candidate. */
static int decode(struct vult_file *file, struct secret *password, const uint8_t *bytes,
                  size_t len, const char *path, const char *password_file)
{
    struct vult_password candidate;
    char prompt[512];
    const char *misnamed = dat_misnamed_binary(path, bytes, len);
    int ret;

    if (misnamed) { /* no password would open it: none is asked for */
        log_err("%s: not a Vultisig backup: %s", path, misnamed);
        return -EINVAL;
    }
    ret = password_file ? -EACCES : vult_decode(file, bytes, len, NULL, 0, NULL);
    if (ret == -EACCES) {
        snprintf(prompt, sizeof(prompt), "Password for %s: ", path);
        if (cli_get_secret(password, password_file, prompt, "password", 0) < 0)
            return -EACCES; /* cli_get_secret said why */
        candidate = (struct vult_password){password->text, password->len};
        ret = vult_decode(file, bytes, len, &candidate, 1, NULL);
    }
    if (ret == -EINVAL && file->problem)
        log_err("%s: %s: %s", path, cli_decode_reason(ret), file->problem);
    else if (ret < 0)
        log_err("%s: %s", path, cli_decode_reason(ret));
    return ret;
}

static int run_inspect(const struct options *o)
{
    const char *path = o->operands[0];
    struct secret password = {0};
    struct vult_file file = {0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    int status = 1;
    int ret = io_read_secret(&bytes, &len, AT_FDCWD, path, VULT_MAX_FILE_BYTES);
    if (ret < 0) {
        log_err("%s: %s", path, ret == -EFBIG ? cli_decode_reason(ret) : strerror(-ret));
        return 1;
    }
    if (decode(&file, &password, bytes, len, path, o->password_file) < 0)
        goto out_free;

    json_t *obj = facts_json(&file, &file.vault);
    if (obj && json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
        putchar('\n');
        status = 0;
    } else {
        log_err("%s: out of memory", path);
    }
    json_decref(obj);

out_free:
    vult_file_clear(&file);
    secret_free(&password);
    alloc_secret_free(bytes);
    return status;
}

int cmd_inspect(int argc, char **argv)
{
    return options_run(argc, argv, inspect_usage, OPTION_PASSWORD_FILE, 1, 1, run_inspect);
}
