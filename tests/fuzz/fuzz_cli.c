/* fuzz_cli.c — libFuzzer target: the `eve` command line, in process.
 *
 * tools/eve.c is compiled with -Dmain=eve_cli_main (run.sh does it), so
 * each input is one complete run of the tool: argument parsing, the op
 * parser of `eve swap` (ops.c), EDN arguments, and the commands on a real
 * domain.  The tool never calls exit() (cli.h), which is what makes this
 * possible.
 *
 * Input: the arguments after `eve`, one per line.  Optionally a line
 * "--8<--" ends them and the rest of the input is the content of the file
 * IN (for `eve import DB IN`).  Two words are replaced:
 *   DB  the domain file, copied afresh from a template before each run
 *       (atoms: counter, m (a nested map), v (a vector), s (a set), l)
 *   IN  the file holding the rest of the input
 * Everything runs in a private directory under /dev/shm (or /tmp), which
 * is emptied after each run.  Arguments containing '/' are refused so that
 * no input can name a file elsewhere; `watch` (blocks until a change) and
 * `demo` (forks workers for seconds) are skipped.  Standard input is
 * /dev/null and standard output is discarded. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exercise.h"

int eve_cli_main(int argc, char **argv);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 24
#define DB_FILE "db.eve"
#define IN_FILE "in.edn"
#define SPLIT "\n--8<--\n"

static char g_dir[256];
static uint8_t *g_template;
static size_t g_template_len;

static void read_file(const char *path, uint8_t **out, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) ex_die("cannot read %s", path);
  *n = (size_t)st.st_size;
  *out = malloc(*n);
  if (!*out || read(fd, *out, *n) != (ssize_t)*n) ex_die("cannot read %s", path);
  close(fd);
}

static void write_file(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n)) ex_die("cannot write %s", path);
  close(fd);
}

/* The template domain, built with the tool itself so that it looks like
 * what users have. */
static void run_tool(const char *const *args) {
  char *argv[MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = (char *)"eve";
  while (*args) argv[argc++] = (char *)*args++;
  argv[argc] = NULL;
  if (eve_cli_main(argc, argv) != 0) ex_die("building the template: eve %s failed", argv[1]);
}

static void build_template(void) {
  static const char *const steps[][6] = {
    {"set", DB_FILE, "counter", "41", NULL},
    {"swap", DB_FILE, "counter", "inc", NULL},
    {"set", DB_FILE, "m", "{:a {:b [1 2 3] :c #{:x :y}} \"k\" (1 2) :f 1.5}", NULL},
    {"set", DB_FILE, "v", "[1 \"two\" :three \\4 nil true 6.0 #uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"]", NULL},
    {"set", DB_FILE, "s", "#{1 2 3 \"a string longer than seven bytes\"}", NULL},
    {"set", DB_FILE, "l", "(1 (2 (3)) #inst \"1985-04-12T23:20:50.520Z\")", NULL},
    {"swap", DB_FILE, "m", "update-in", "[:a :b]", "conj"},
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    const char *args[8] = {0};
    for (int k = 0; k < 6 && steps[i][k]; k++) args[k] = steps[i][k];
    if (i == 6) args[6] = "4";
    run_tool(args);
  }
  read_file(DB_FILE, &g_template, &g_template_len);
}

static void clean_dir(void);

/* At exit: empty and remove the work directory (a crash leaves it). */
static void remove_dir(void) {
  if (chdir(g_dir) == 0) clean_dir();
  if (chdir("/") == 0) rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/eve-fuzz-cli-XXXXXX", base);
  if (!mkdtemp(g_dir) || chdir(g_dir) != 0) ex_die("cannot make a work directory");
  int null = open("/dev/null", O_RDWR);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0) ex_die("cannot redirect stdio");
  close(null);
  atexit(remove_dir);
  build_template();
  return 0;
}

/* Remove every file the run created (commands may create any name). */
static void clean_dir(void) {
  DIR *dir = opendir(".");
  struct dirent *e;
  if (!dir) return;
  while ((e = readdir(dir)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(e->d_name);
  closedir(dir);
}

/* Split text into at most MAX_ARGS lines; 0 when an argument is refused. */
static int split_args(char *text, char **argv, int *argc) {
  *argc = 0;
  argv[(*argc)++] = (char *)"eve";
  for (char *line = text; line && *argc <= MAX_ARGS;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (strchr(line, '/')) return 0;
    argv[(*argc)++] = !strcmp(line, "DB") ? (char *)DB_FILE : !strcmp(line, "IN") ? (char *)IN_FILE : line;
    line = nl ? nl + 1 : NULL;
  }
  argv[*argc] = NULL;
  return *argc >= 2 && strcmp(argv[1], "watch") && strcmp(argv[1], "demo");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0; /* arguments are C strings: a NUL ends the last one early */
  char *in = memmem(text, size, SPLIT, strlen(SPLIT));
  size_t in_len = 0;
  if (in) {
    *in = 0;
    in += strlen(SPLIT);
    in_len = size - (size_t)(in - text);
  }
  char *argv[MAX_ARGS + 2];
  int argc;
  if (split_args(text, argv, &argc)) {
    write_file(DB_FILE, g_template, g_template_len);
    write_file(IN_FILE, in ? in : "", in_len);
    int rc = eve_cli_main(argc, argv);
    if (rc < 0 || rc > 2) ex_die("eve %s exited %d (only 0, 1, 2 are documented)", argv[1], rc);
    clean_dir();
  }
  free(text);
  return 0;
}
