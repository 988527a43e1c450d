#include "fm_names.h"

#include <string.h>

bool fm_names_is_trash(const char *name)
{
    static const char prefix[] = ".Trash-";
    size_t n = sizeof(prefix) - 1;

    if (strcmp(name, ".Trash") == 0)
        return true;
    if (strncmp(name, prefix, n) != 0 || !name[n])
        return false;
    return strspn(name + n, "0123456789") == strlen(name + n);
}

bool fm_names_is_metadata(const char *name)
{
    static const char *const names[] = {".directory", ".hidden", ".thumbnails",
                                        ".sh_thumbnails"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return fm_names_is_trash(name);
}
