// nicplex-cni: the thin-mode CNI plugin binary (symlink it into the CNI bin dir as "nicplex"). It execs
// node on the startup snapshot of the CNI entry, so the runtime's exec costs one bare Node start and no
// module loading or shell:
//   node --snapshot-blob <root>/dist/cni-fast/nicplex-cni.blob <root>/dist/deploy/nicplex.js cni ARGS...
// <root> is two levels above this binary's real path (build/Release/nicplex-cni), so a symlink works.
// A blob only loads in the node binary that built it: <root>/dist/cni-fast/nicplex-cni.node names that
// binary ("size mtime inode path"), and the blob is used only when that binary is unchanged and the blob
// is newer than dist/cni/entry.js (a tsc build after it makes it stale). Otherwise it execs the plain
//   node <root>/dist/deploy/nicplex.js cni ARGS...
// with that node, else the first "node" on PATH, else /usr/local/bin/node or /usr/bin/node. It never
// reads stdin (node does) and allocates nothing but the argument vector.
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

// The node that built the blob, if the identity file names one; *unchanged tells whether it still matches.
static int recorded_node(char *node, int *unchanged) {
  char identity[PATH_MAX];
  *unchanged = 0;
  if (path_in_root(identity, "dist/cni-fast/nicplex-cni.node") != 0) return -1;
  FILE *file = fopen(identity, "re");
  if (!file) return -1;
  unsigned long long size = 0, inode = 0;
  long long mtime = 0;
  int offset = 0;
  char line[PATH_MAX + 96];
  int ok = fgets(line, sizeof line, file) != NULL && sscanf(line, "%llu %lld %llu %n", &size, &mtime, &inode, &offset) == 3 && offset > 0;
  fclose(file);
  if (!ok) return -1;
  line[strcspn(line, "\n")] = '\0';
  if (strlen(line + offset) >= PATH_MAX || line[offset] != '/') return -1;
  strcpy(node, line + offset);
  struct stat st;
  if (stat(node, &st) != 0 || access(node, X_OK) != 0) return -1;
  *unchanged = (unsigned long long)st.st_size == size && (long long)st.st_mtim.tv_sec == mtime && (unsigned long long)st.st_ino == inode;
  return 0;
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

static void fail(const char *what, const char *detail) {
  // The caller's cniVersion is on stdin, which is node's to read; 1.1.0 errors are read by every libcni.
  printf("{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"nicplex-cni: %s\",\"details\":\"%s\"}\n", what, detail);
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
  char script[PATH_MAX], blob[PATH_MAX], entry[PATH_MAX], node[PATH_MAX];
  if (path_in_root(script, "dist/deploy/nicplex.js") != 0 || path_in_root(blob, "dist/cni-fast/nicplex-cni.blob") != 0
      || path_in_root(entry, "dist/cni/entry.js") != 0) fail("install path too long", root);
  int unchanged = 0;
  int have_node = recorded_node(node, &unchanged) == 0;
  struct stat blob_st, entry_st;
  int fast = have_node && unchanged && getenv("NICPLEX_CNI_NO_SNAPSHOT") == NULL
    && stat(blob, &blob_st) == 0 && stat(entry, &entry_st) == 0 && newer(&blob_st, &entry_st);
  if (!have_node && node_on_path(node) != 0) fail("no node binary found (PATH, /usr/local/bin, /usr/bin)", "");
  char **args = calloc((size_t)argc + 6, sizeof *args);
  if (!args) fail("out of memory", "");
  int i = 0;
  args[i++] = node;
  if (fast) { args[i++] = "--snapshot-blob"; args[i++] = blob; }
  args[i++] = script;
  args[i++] = "cni";
  for (int arg = 1; arg < argc; arg++) args[i++] = argv[arg];
  args[i] = NULL;
  execv(node, args);
  fail("cannot exec node", strerror(errno));
  return 1;
}
