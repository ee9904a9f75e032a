// nicplex shim: the CNI plugin binary runtimes exec when the nicplex agent runs. It forwards the CNI
// environment and the network configuration on stdin to the agent over a unix socket and writes the
// agent's answer and exit code. libc only, no allocation beyond the request and the answer.
//
// Socket: "<socketDir>/nicplex.sock" (socketDir from the config, default /run/nicplex); installed under
// the name "multus-shim" it reads Multus's "daemonSocketDir" (default /run/multus/) and uses multus.sock,
// so an existing thick-mode 00-multus.conf works unchanged.
// The agent absent: every command waits up to "agentWaitSeconds" (default 10) for the socket, then fails
// with CNI error 11 naming the socket (DEL too: a DEL that pretends success leaks IPs and devices).
// Every read and write has a deadline; the answer must arrive within "agentTimeoutSeconds" (default 240).
//
// Wire format (HTTP/1.1, one request per connection):
//   POST /v1/cni  {"env": {"CNI_COMMAND": ...}, "config": "<base64 of stdin>"}
//   200, header X-Cni-Exit-Code: <n>, body = what the plugin prints on stdout.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_STDIN (16u << 20)
#define MAX_ANSWER (64u << 20)
#define CODE_TRY_AGAIN 11
#define CODE_IO 5
#define CODE_INVALID_CONFIG 7
#define CODE_INTERNAL 999

typedef struct { char *data; size_t len, cap; } buf_t;

static char cni_version[32] = "1.1.0";

static int buf_reserve(buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *next = realloc(b->data, cap);
  if (!next) return -1;
  b->data = next;
  b->cap = cap;
  return 0;
}

static int buf_add(buf_t *b, const char *s, size_t n) {
  if (buf_reserve(b, n) != 0) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static int buf_str(buf_t *b, const char *s) { return buf_add(b, s, strlen(s)); }

static int buf_json_string(buf_t *b, const char *s) {
  if (buf_add(b, "\"", 1) != 0) return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') { esc[0] = '\\'; esc[1] = (char)*p; if (buf_add(b, esc, 2) != 0) return -1; }
    else if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); if (buf_str(b, esc) != 0) return -1; }
    else if (buf_add(b, (const char *)p, 1) != 0) return -1;
  }
  return buf_add(b, "\"", 1);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** Prints a CNI error on stdout and returns the exit code. */
static int fail(int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  buf_t out = {0};
  buf_str(&out, "{\"cniVersion\":");
  buf_json_string(&out, cni_version);
  char num[32];
  snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
  buf_str(&out, num);
  buf_json_string(&out, msg);
  buf_str(&out, "}\n");
  if (out.data) (void)!write(STDOUT_FILENO, out.data, out.len);
  return 1;
}

/** Waits until fd is readable/writable or the deadline passes; 0 ready, -1 timed out or failed. */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) { errno = ETIMEDOUT; return -1; }
    struct pollfd p = { .fd = fd, .events = events };
    int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return -1;
  }
}

static int read_all(int fd, buf_t *b, size_t limit, int64_t deadline) {
  for (;;) {
    if (wait_fd(fd, POLLIN, deadline) != 0) return -1;
    if (buf_reserve(b, 65536) != 0) { errno = ENOMEM; return -1; }
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    b->len += (size_t)n;
    b->data[b->len] = '\0';
    if (b->len > limit) { errno = EFBIG; return -1; }
  }
}

static int write_all(int fd, const char *data, size_t len, int64_t deadline) {
  while (len > 0) {
    if (wait_fd(fd, POLLOUT, deadline) != 0) return -1;
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

// ---- the few top-level keys the shim reads from its config --------------------------------------

static const char *skip_ws(const char *p) { while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++; return p; }

/** Parses a JSON string at p into out (ASCII; other \u escapes become '?'); returns the end or NULL. */
static const char *parse_string(const char *p, char *out, size_t cap) {
  if (*p != '"') return NULL;
  size_t n = 0;
  for (p++; *p && *p != '"'; p++) {
    char c = *p;
    if (c == '\\') {
      p++;
      switch (*p) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u':
          for (int i = 0; i < 4; i++) if (!p[1 + i]) return NULL;
          c = '?';
          p += 4;
          break;
        case '\0': return NULL;
        default: c = *p;
      }
    }
    if (out && n + 1 < cap) out[n++] = c;
  }
  if (*p != '"') return NULL;
  if (out && cap) out[n] = '\0';
  return p + 1;
}

/** Skips one JSON value (object, array, string or scalar). */
static const char *skip_value(const char *p) {
  p = skip_ws(p);
  if (*p == '"') return parse_string(p, NULL, 0);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (*p) {
      if (*p == '"') { p = parse_string(p, NULL, 0); if (!p) return NULL; continue; }
      if (*p == '{' || *p == '[') depth++;
      else if (*p == '}' || *p == ']') { if (--depth == 0) return p + 1; }
      p++;
    }
    return NULL;
  }
  while (*p && *p != ',' && *p != '}' && *p != ']') p++;
  return p;
}

typedef struct { char socket_dir[512]; char daemon_socket_dir[512]; double wait_s, timeout_s; } shim_conf_t;

static void read_conf(const char *json, shim_conf_t *conf) {
  const char *p = skip_ws(json);
  if (*p != '{') return;
  p = skip_ws(p + 1);
  while (*p && *p != '}') {
    char key[64];
    p = parse_string(p, key, sizeof key);
    if (!p) return;
    p = skip_ws(p);
    if (*p != ':') return;
    p = skip_ws(p + 1);
    char *target = NULL;
    size_t cap = 0;
    double *number = NULL;
    if (strcmp(key, "cniVersion") == 0) { target = cni_version; cap = sizeof cni_version; }
    else if (strcmp(key, "socketDir") == 0) { target = conf->socket_dir; cap = sizeof conf->socket_dir; }
    else if (strcmp(key, "daemonSocketDir") == 0) { target = conf->daemon_socket_dir; cap = sizeof conf->daemon_socket_dir; }
    else if (strcmp(key, "agentWaitSeconds") == 0) number = &conf->wait_s;
    else if (strcmp(key, "agentTimeoutSeconds") == 0) number = &conf->timeout_s;
    if (target && *p == '"') p = parse_string(p, target, cap);
    else if (number && ((*p >= '0' && *p <= '9') || *p == '.')) {
      char *end;
      double value = strtod(p, &end);
      if (value > 0 && value < 86400) *number = value;
      p = end;
    } else p = skip_value(p);
    if (!p) return;
    p = skip_ws(p);
    if (*p == ',') p = skip_ws(p + 1);
  }
}

static void base64(buf_t *b, const unsigned char *data, size_t len) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (buf_reserve(b, (len + 2) / 3 * 4) != 0) return;
  char *o = b->data + b->len;
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    *o++ = table[data[i] >> 2];
    *o++ = table[((data[i] & 3) << 4) | (data[i + 1] >> 4)];
    *o++ = table[((data[i + 1] & 15) << 2) | (data[i + 2] >> 6)];
    *o++ = table[data[i + 2] & 63];
  }
  if (i < len) {
    *o++ = table[data[i] >> 2];
    if (i + 1 < len) {
      *o++ = table[((data[i] & 3) << 4) | (data[i + 1] >> 4)];
      *o++ = table[(data[i + 1] & 15) << 2];
    } else {
      *o++ = table[(data[i] & 3) << 4];
      *o++ = '=';
    }
    *o++ = '=';
  }
  b->len = (size_t)(o - b->data);
  b->data[b->len] = '\0';
}

static const char *const FORWARDED_ENV[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH", NULL };

/** Connects, retrying while the socket is missing or refuses, until the deadline. */
static int connect_agent(const struct sockaddr_un *addr, int64_t deadline, int *last_errno) {
  for (;;) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) { *last_errno = errno; return -1; }
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0) return fd;
    *last_errno = errno;
    close(fd);
    if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0) return -1;
    struct timespec pause = { 0, (left < 100 ? left : 100) * 1000000L };
    nanosleep(&pause, NULL);
  }
}

int main(int argc, char **argv) {
  (void)argc;
  signal(SIGPIPE, SIG_IGN);
  const char *command = getenv("CNI_COMMAND");
  const char *self = strrchr(argv[0], '/');
  self = self ? self + 1 : argv[0];
  int as_multus = strcmp(self, "multus-shim") == 0;

  buf_t input = {0};
  if (read_all(STDIN_FILENO, &input, MAX_STDIN, now_ms() + 30000) != 0) {
    return fail(CODE_IO, "nicplex shim: cannot read the network configuration on stdin: %s", strerror(errno));
  }
  shim_conf_t conf = { .wait_s = 10, .timeout_s = 240 };
  read_conf(input.data ? input.data : "", &conf);

  if (command && strcmp(command, "VERSION") == 0) {
    // Answered here, so a runtime probing versions never depends on the agent. The version is the
    // caller's text: JSON-escaped, so a quote or control character in it cannot break the answer.
    buf_t out = {0};
    buf_str(&out, "{\"cniVersion\":");
    buf_json_string(&out, cni_version);
    if (buf_str(&out, ",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n") != 0) return fail(CODE_INTERNAL, "nicplex shim: out of memory");
    return write_all(STDOUT_FILENO, out.data, out.len, now_ms() + 10000) == 0 ? 0 : 1;
  }

  const char *dir = as_multus ? (conf.daemon_socket_dir[0] ? conf.daemon_socket_dir : "/run/multus/") : (conf.socket_dir[0] ? conf.socket_dir : "/run/nicplex");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  size_t dir_len = strlen(dir);
  while (dir_len > 1 && dir[dir_len - 1] == '/') dir_len--;
  int written = snprintf(addr.sun_path, sizeof addr.sun_path, "%.*s/%s", (int)dir_len, dir, as_multus ? "multus.sock" : "nicplex.sock");
  if (written < 0 || (size_t)written >= sizeof addr.sun_path) {
    return fail(CODE_INVALID_CONFIG, "nicplex shim: %s \"%s\" is too long for a unix socket path", as_multus ? "daemonSocketDir" : "socketDir", dir);
  }

  buf_t body = {0};
  buf_str(&body, "{\"env\":{");
  int first = 1;
  for (const char *const *name = FORWARDED_ENV; *name; name++) {
    const char *value = getenv(*name);
    if (!value) continue;
    if (!first) buf_str(&body, ",");
    first = 0;
    buf_json_string(&body, *name);
    buf_str(&body, ":");
    buf_json_string(&body, value);
  }
  buf_str(&body, "},\"config\":\"");
  base64(&body, (const unsigned char *)(input.data ? input.data : ""), input.len);
  if (buf_str(&body, "\"}") != 0) return fail(CODE_INTERNAL, "nicplex shim: out of memory");

  int64_t started = now_ms();
  int last_errno = 0;
  int fd = connect_agent(&addr, started + (int64_t)(conf.wait_s * 1000), &last_errno);
  if (fd < 0) {
    return fail(CODE_TRY_AGAIN, "nicplex agent is not answering on %s (%s, waited %.1f s); %s has not been done, retry when the agent runs",
                addr.sun_path, strerror(last_errno), conf.wait_s, command ? command : "the command");
  }
  char head[256];
  int head_len = snprintf(head, sizeof head, "POST /v1/cni HTTP/1.1\r\nHost: nicplex\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
  int64_t io_deadline = now_ms() + 10000;
  if (write_all(fd, head, (size_t)head_len, io_deadline) != 0 || write_all(fd, body.data, body.len, io_deadline) != 0) {
    int error = errno;
    close(fd);
    return fail(CODE_TRY_AGAIN, "nicplex shim: cannot send the request to the agent on %s: %s; retry", addr.sun_path, strerror(error));
  }
  buf_t answer = {0};
  if (read_all(fd, &answer, MAX_ANSWER, now_ms() + (int64_t)(conf.timeout_s * 1000)) != 0) {
    int error = errno;
    close(fd);
    if (error == ETIMEDOUT) return fail(CODE_TRY_AGAIN, "nicplex agent on %s did not answer within %.0f s (agentTimeoutSeconds); retry", addr.sun_path, conf.timeout_s);
    return fail(CODE_TRY_AGAIN, "nicplex shim: reading the answer from %s failed: %s; retry", addr.sun_path, strerror(error));
  }
  close(fd);
  const char *text = answer.data ? answer.data : "";
  const char *split = strstr(text, "\r\n\r\n");
  int status = 0;
  if (!split || sscanf(text, "HTTP/1.%*d %d", &status) != 1) {
    return fail(CODE_TRY_AGAIN, "nicplex agent on %s closed the connection before answering (stopped or restarted?); retry", addr.sun_path);
  }
  const char *payload = split + 4;
  size_t payload_len = answer.len - (size_t)(payload - text);
  if (status != 200) return fail(CODE_INTERNAL, "nicplex agent on %s answered HTTP %d: %.400s", addr.sun_path, status, payload);
  int exit_code = -1;
  for (const char *line = strstr(text, "\r\n"); line && line < split; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "X-Cni-Exit-Code:", 16) == 0) exit_code = atoi(line + 18);
  }
  if (exit_code < 0 || exit_code > 255) return fail(CODE_INTERNAL, "nicplex agent on %s sent no X-Cni-Exit-Code header", addr.sun_path);
  if (payload_len > 0 && write_all(STDOUT_FILENO, payload, payload_len, now_ms() + 10000) != 0) return 1;
  return exit_code;
}
