// Starting plugin processes without fork() (see spawn.cc).
#pragma once

#include <napi.h>

namespace nicplex {

/**
 * spawnProcess(binary: string, env: string[]) -> { pid, stdin, stdout, stderr } (pipe fds, close-on-exec
 * in this process) or throws an Error with `code` = the errno name (ENOENT, EACCES, ETXTBSY, ...).
 * The child runs in a new session (its own process group), with every signal at its default and none blocked.
 */
Napi::Value SpawnProcessJs(const Napi::CallbackInfo& info);

/** reapProcess(pid) -> null while it runs, else { code: number | null, signal: number | null } (waitpid WNOHANG). */
Napi::Value ReapProcessJs(const Napi::CallbackInfo& info);

}  // namespace nicplex
