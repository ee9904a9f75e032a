// Plugin processes started with posix_spawn instead of fork(): glibc's posix_spawn uses
// clone(CLONE_VM | CLONE_VFORK), so the cost does not grow with the parent's size. Forking a Node
// process of ~100 MB (what child_process.spawn does on Linux) blocks the event loop for several
// milliseconds per plugin while the kernel copies its page tables; the agent execs two or more
// plugins per CNI call. JS wraps the returned pipe fds in sockets and polls reapProcess for the exit.
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace nicplex {
namespace {

// The errno travels as a number (negative, as Node's own errors carry it); native/process-spawn.ts
// names it with errnoName() like every other native error, so there is one errno table.
Napi::Error ErrnoError(Napi::Env env, const std::string& what, int error) {
  Napi::Error exception = Napi::Error::New(env, what + ": " + strerror(error));
  exception.Set("errno", Napi::Number::New(env, -error));
  return exception;
}

// A close-on-exec pipe whose ends are above stderr, so dup2 onto 0-2 in the child always clears the flag.
bool MakePipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  for (int i = 0; i < 2; i++) {
    if (fds[i] > 2) continue;
    int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return false;
    close(fds[i]);
    fds[i] = moved;
  }
  return true;
}

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  fds.clear();
}

// waitpid(pid, 0) off the event loop: reaping an exited plugin can block in the kernel for tens of
// milliseconds (measured here: up to 100 ms after a bridge ADD/DEL), even with WNOHANG once it is a zombie.
class WaitWorker : public Napi::AsyncWorker {
 public:
  WaitWorker(Napi::Env env, pid_t pid) : Napi::AsyncWorker(env), pid_(pid), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    pid_t done;
    do {
      done = waitpid(pid_, &status_, 0);
    } while (done < 0 && errno == EINTR);
    if (done < 0) error_ = errno;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != 0) {
      deferred_.Reject(ErrnoError(env, "waitpid", error_).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("code", WIFEXITED(status_) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status_))) : env.Null());
    result.Set("signal", WIFSIGNALED(status_) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status_))) : env.Null());
    deferred_.Resolve(result);
  }

 private:
  pid_t pid_;
  int status_ = 0;
  int error_ = 0;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

// pipe2 + posix_spawn on a libuv pool thread: posix_spawn returns only once the child has exec'd,
// which under load can take milliseconds that the event loop should not wait.
class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, std::string binary, std::vector<std::string> envStrings)
      : Napi::AsyncWorker(env), binary_(std::move(binary)), env_(std::move(envStrings)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::vector<char*> envp;
    for (std::string& entry : env_) envp.push_back(entry.data());
    envp.push_back(nullptr);
    char* argv[] = {binary_.data(), nullptr};
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (!MakePipe(in) || !MakePipe(out) || !MakePipe(err)) {
      error_ = errno;
      what_ = "pipe";
      std::vector<int> opened = {in[0], in[1], out[0], out[1], err[0], err[1]};
      CloseAll(opened);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    // Node ignores SIGPIPE and its threads block some signals; a plugin starts with the defaults,
    // as libuv's own spawn gives it, in a session of its own so a timeout can kill its whole group.
    // Every bit is set, glibc's two internal signals too (sigfillset leaves them out, and glibc's
    // child would then set them to SIG_IGN, which survives exec); libuv resets all of them as well.
    sigset_t all, none;
    memset(&all, 0xff, sizeof(all));
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
    int error = posix_spawn(&pid_, binary_.c_str(), &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (error != 0) {
      close(in[1]);
      close(out[0]);
      close(err[0]);
      error_ = error;
      what_ = "spawn " + binary_;
      return;
    }
    fds_[0] = in[1];
    fds_[1] = out[0];
    fds_[2] = err[0];
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != 0) {
      deferred_.Reject(ErrnoError(env, what_, error_).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("pid", Napi::Number::New(env, pid_));
    result.Set("stdin", Napi::Number::New(env, fds_[0]));
    result.Set("stdout", Napi::Number::New(env, fds_[1]));
    result.Set("stderr", Napi::Number::New(env, fds_[2]));
    deferred_.Resolve(result);
  }

 private:
  std::string binary_;
  std::vector<std::string> env_;
  Napi::Promise::Deferred deferred_;
  pid_t pid_ = -1;
  int fds_[3] = {-1, -1, -1};
  int error_ = 0;
  std::string what_;
};

Napi::Value SpawnProcessJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    Napi::TypeError::New(env, "spawnProcess(binary: string, env: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string binary = info[0].As<Napi::String>().Utf8Value();
  if (binary.empty() || binary.find('\0') != std::string::npos) {
    Napi::TypeError::New(env, "spawnProcess: binary must be a non-empty path").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array envList = info[1].As<Napi::Array>();
  std::vector<std::string> envStrings;
  for (uint32_t i = 0; i < envList.Length(); i++) {
    Napi::Value item = envList.Get(i);
    if (!item.IsString()) {
      Napi::TypeError::New(env, "spawnProcess: env entries must be strings").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    envStrings.push_back(item.As<Napi::String>().Utf8Value());
    if (envStrings.back().find('\0') != std::string::npos) {
      Napi::TypeError::New(env, "spawnProcess: env entries must not contain NUL").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  auto* worker = new SpawnWorker(env, std::move(binary), std::move(envStrings));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value WaitProcessJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() <= 0) {
    Napi::TypeError::New(env, "waitProcess(pid: positive number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new WaitWorker(env, info[0].As<Napi::Number>().Int32Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace nicplex
