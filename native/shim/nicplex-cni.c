// nicplex-cni: the thin-mode CNI plugin binary (symlink it into the CNI bin dir as "nicplex"). It execs node
// on the CNI entry's one-file bundle (with its V8 code cache), with no shell in between:
//   <node> <root>/dist/cni-fast/main.cjs ARGS...
// <root> is three levels above this binary's real path (<root>/build/Release/nicplex-cni), so a symlink
// works. <node> is the one that ran the build, named in <root>/dist/cni-fast/node (written last by
// `npm run build`). When that file is missing or older than dist/cni/entry.js (a tsc build after it), it
// execs the plain entry instead, with the first "node" on PATH, else /usr/local/bin/node or /usr/bin/node:
//   <node> <root>/dist/deploy/nicplex.js cni ARGS...
// It never reads stdin (node does) and allocates nothing but the argument vector.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX];

static int path_in_root(char *out, const char *relative) {
  int n = snprintf(out, PATH_MAX, "%s/%s", root, relative);
  return n > 0 && n < PATH_MAX ? 0 : -1;
}

static int newer(const struct stat *a, const struct stat *b) {
  return a->st_mtim.tv_sec > b->st_mtim.tv_sec || (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec);
}

// The node that ran the build, if dist/cni-fast/node names one that is still there and is newer than `entry`.
static int recorded_node(char *node, const struct stat *entry) {
  char named[PATH_MAX];
  struct stat st;
  if (path_in_root(named, "dist/cni-fast/node") != 0) return -1;
  if (stat(named, &st) != 0 || !newer(&st, entry)) return -1;
  FILE *file = fopen(named, "re");
  if (!file) return -1;
  int ok = fgets(node, PATH_MAX, file) != NULL;
  fclose(file);
  if (!ok) return -1;
  node[strcspn(node, "\n")] = '\0';
  return node[0] == '/' && access(node, X_OK) == 0 ? 0 : -1;
}

static int node_on_path(char *node) {
  const char *path = getenv("PATH");
  while (path && *path) {
    size_t len = strcspn(path, ":");
    if (len > 0 && len + 6 < PATH_MAX) {
      memcpy(node, path, len);
      strcpy(node + len, "/node");
      if (access(node, X_OK) == 0) return 0;
    }
    path += len + (path[len] == ':');
  }
  const char *fixed[] = {"/usr/local/bin/node", "/usr/bin/node"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    if (access(fixed[i], X_OK) == 0) { strcpy(node, fixed[i]); return 0; }
  }
  return -1;
}

/** `text` as the inside of a JSON string: quotes and backslashes escaped, control bytes as \u00XX. */
static void put_json_text(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
}

static void fail(const char *what, const char *detail) {
  // The caller's cniVersion is on stdin, which is node's to read; 1.1.0 errors are read by every libcni.
  fputs("{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"nicplex-cni: ", stdout);
  put_json_text(what);
  fputs("\",\"details\":\"", stdout);
  put_json_text(detail);
  fputs("\"}\n", stdout);
  exit(1);
}

int main(int argc, char **argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) fail("cannot read /proc/self/exe", strerror(errno));
  self[n] = '\0';
  // <root>/build/Release/nicplex-cni
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(self, '/');
    if (!slash || slash == self) fail("cannot find the nicplex install from this binary's path", self);
    *slash = '\0';
  }
  strcpy(root, self);
  char script[PATH_MAX], main_cjs[PATH_MAX], entry[PATH_MAX], node[PATH_MAX];
  if (path_in_root(script, "dist/deploy/nicplex.js") != 0 || path_in_root(main_cjs, "dist/cni-fast/main.cjs") != 0
      || path_in_root(entry, "dist/cni/entry.js") != 0) fail("install path too long", root);
  struct stat entry_st;
  if (stat(entry, &entry_st) != 0) fail("the nicplex build is missing (run npm run build)", entry);
  int fast = recorded_node(node, &entry_st) == 0 && access(main_cjs, R_OK) == 0;
  if (!fast && node_on_path(node) != 0) fail("no node binary found (PATH, /usr/local/bin, /usr/bin)", "");
  char **args = calloc((size_t)argc + 4, sizeof *args);
  if (!args) fail("out of memory", "");
  int i = 0;
  args[i++] = node;
  if (fast) {
    args[i++] = main_cjs;
  } else {
    args[i++] = script;
    args[i++] = "cni";
  }
  for (int arg = 1; arg < argc; arg++) args[i++] = argv[arg];
  args[i] = NULL;
  execv(node, args);
  fail("cannot exec node", strerror(errno));
  return 1;
}
