#include "cli.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "log.h"

const char *cli_decode_reason(int err)
{
    switch (err) {
    case -EACCES:
        return "wrong or missing password";
    case -EINVAL:
        return "not a Vultisig backup, or truncated or corrupt";
    case -EFBIG:
        return "too large for a Vultisig backup";
    case -ENOTSUP:
        return "a 2024 .dat backup, which vultfs does not read: export the vault again "
               "from the Vultisig app (Settings, Backup) to get a .vult file";
    case -ENOMEM:
        return "out of memory";
    default:
        return strerror(-err);
    }
}

int cli_get_secret(struct secret *out, const char *path, const char *prompt, const char *what,
                   int confirm)
{
    int ret;

    if (path) {
        ret = secret_from_file(out, path, 0);
        if (ret == -EINVAL)
            log_err("%s file %s is empty", what, path);
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
