/*
 * commands: the subcommands of the vultfs program. Each takes the
 * arguments after its own name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 a refusal or failure, 2 a usage error.
 */
#ifndef VULTFS_COMMANDS_H
#define VULTFS_COMMANDS_H

int cmd_inspect(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_replace(int argc, char **argv);

/* Each command's --help: its synopsis ("usage: vultfs NAME ..." and one
 * line per further form, "       vultfs NAME ...", each continued on lines
 * indented deeper), a blank line, then what it does. vultfs --help shows
 * these same synopses (main.c), and tests/cli/test_usage.py holds the man
 * page's SYNOPSIS and the README to them. */
extern const char inspect_usage[], init_usage[], import_usage[], export_usage[], list_usage[],
    fsck_usage[], forget_usage[], passwd_usage[], mount_usage[], check_usage[], audit_usage[],
    promote_usage[], replace_usage[];

/* Parts of a subcommand in a file of their own, run with its options. */
struct options;
int export_zip_run(const struct options *o); /* export --zip */
int forget_epoch_run(const struct options *o); /* forget --epoch N */

#endif
