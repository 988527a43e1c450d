#include "hex.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

void hex_encode(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

int hex_decode(uint8_t *out, size_t len, const char *hex)
{
    size_t got = 0;
    if (!hex || strlen(hex) != len * 2 ||
        sodium_hex2bin(out, len, hex, len * 2, NULL, &got, NULL) != 0 || got != len)
        return -EINVAL;
    return 0;
}
