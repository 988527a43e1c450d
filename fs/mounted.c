#include "mounted.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mountinfo writes space, tab, newline and backslash as \ooo: decodes in place. */
static void unescape(char *s)
{
    char *out = s;

    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

/* One mountinfo line: "id parent major:minor root MOUNTPOINT opts [tags] -
 * FSTYPE SOURCE superopts". Fills the three fields; 0 or -EINVAL. */
static int parse_line(char *line, char **mountpoint, char **fstype, char **source)
{
    char *save = NULL, *field;
    int n = 0;

    *mountpoint = *fstype = *source = NULL;
    for (field = strtok_r(line, " \n", &save); field; field = strtok_r(NULL, " \n", &save)) {
        if (++n == 5)
            *mountpoint = field;
        else if (n > 6 && strcmp(field, "-") == 0)
            break;
    }
    if (!field || !*mountpoint)
        return -EINVAL;
    *fstype = strtok_r(NULL, " \n", &save);
    *source = strtok_r(NULL, " \n", &save);
    return *fstype && *source ? 0 : -EINVAL;
}

int mounted_as(const char *path, const char *fstype, char *source, size_t source_size)
{
    FILE *table = fopen("/proc/self/mountinfo", "re");
    char *line = NULL, *mnt, *type, *src;
    size_t cap = 0;
    int found = 0;

    if (!table)
        return -errno;
    while (!found && getline(&line, &cap, table) >= 0) {
        if (parse_line(line, &mnt, &type, &src) < 0)
            continue;
        unescape(mnt);
        if (strcmp(mnt, path) != 0 || strcmp(type, fstype) != 0)
            continue;
        unescape(src);
        snprintf(source, source_size, "%s", src);
        found = 1;
    }
    free(line);
    fclose(table);
    return found;
}
