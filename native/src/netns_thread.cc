#include "netns_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace nicplex {

namespace {

constexpr long kNsfsMagic = 0x6e736673;
constexpr long kProcSuperMagic = 0x9fa0;  // namespace files lived on procfs before Linux 3.19

thread_local bool t_dedicated = false;

struct ThreadStart {
  std::function<void()> work;
};

void* ThreadMain(void* arg) {
  ThreadStart* start = static_cast<ThreadStart*>(arg);
  t_dedicated = true;
  start->work();
  delete start;
  return nullptr;
}

}  // namespace

bool RunOnDedicatedThread(std::function<void()> work) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 512 * 1024);  // netlink work needs little stack; keep threads cheap
  auto* start = new ThreadStart{std::move(work)};
  pthread_t tid;
  int rc = pthread_create(&tid, &attr, ThreadMain, start);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete start;
    return false;
  }
  return true;
}

bool OnDedicatedThread() { return t_dedicated; }

void MarkDedicatedThread() { t_dedicated = true; }

Status OpenNetnsFd(const std::string& path, int* fd) {
  *fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd < 0) return Status::Err(errno, "cannot open network namespace " + path);
  struct statfs info;
  if (fstatfs(*fd, &info) < 0 || (static_cast<long>(info.f_type) != kNsfsMagic && static_cast<long>(info.f_type) != kProcSuperMagic)) {
    close(*fd);
    *fd = -1;
    return Status::Err(EINVAL, path + " is not a namespace file (expected nsfs, e.g. /run/netns/<name> or /proc/<pid>/ns/net)");
  }
  return Status::Ok();
}

Status CheckNetnsFd(int fd) {
  struct statfs info;
  if (fstatfs(fd, &info) < 0) return Status::Err(errno, "netns fd " + std::to_string(fd) + " is not open");
  if (static_cast<long>(info.f_type) != kNsfsMagic && static_cast<long>(info.f_type) != kProcSuperMagic) {
    return Status::Err(EINVAL, "fd " + std::to_string(fd) + " is not a namespace file");
  }
  return Status::Ok();
}

Status EnterNetns(const std::string& path) {
  if (!t_dedicated || gettid() == getpid()) {
    // Refuse rather than move the event loop or a pool thread into another namespace.
    return Status::Err(EPERM, "refusing setns outside a dedicated native thread");
  }
  int fd = -1;
  Status st = OpenNetnsFd(path, &fd);
  if (!st.ok()) return st;
  int rc = setns(fd, CLONE_NEWNET);
  int err = errno;
  close(fd);
  if (rc < 0) return Status::Err(err, "setns into " + path + (err == EINVAL ? " failed: not a network namespace" : " failed"));
  return Status::Ok();
}

Status EnterNetnsFd(int fd, const std::string& what) {
  if (!t_dedicated || gettid() == getpid()) return Status::Err(EPERM, "refusing setns outside a dedicated native thread");
  if (setns(fd, CLONE_NEWNET) < 0) return Status::Err(errno, "setns back into " + what + " failed");
  return Status::Ok();
}

}  // namespace nicplex
