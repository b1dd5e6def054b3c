/* files.c — scratch files: sizes on disk, removal. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

uint64_t disk_bytes_of(const char *path) {
  struct stat st;
  if (stat(path, &st)) return 0;
  if (!S_ISDIR(st.st_mode)) return (uint64_t)st.st_blocks * 512;
  DIR *d = opendir(path);
  struct dirent *e;
  uint64_t sum = 0;
  char sub[1024];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    sum += disk_bytes_of(sub);
  }
  if (d) closedir(d);
  return sum;
}

uint64_t file_bytes_of(const char *path) {
  struct stat st;
  return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

/* Removes a file, or a directory of plain files (an LMDB env). */
void remove_tree(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  char sub[1024];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    unlink(sub);
  }
  if (d) {
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

const char *scratch(const bench_cfg *cfg, const char *name, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", cfg->work_dir, name);
  remove_tree(buf);
  return buf;
}

