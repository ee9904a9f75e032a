// Starting plugin processes without fork() (see spawn.cc).
#pragma once

#include <napi.h>

namespace nicplex {

/**
 * spawnProcess(binary: string, env: string[]) -> Promise<{ pid, stdin, stdout, stderr }> (pipe fds,
 * close-on-exec in this process; started on a libuv pool thread), rejected with an Error whose `errno`
 * is the negative errno (process-spawn.ts adds its name as `code`).
 * The child runs in a new session (its own process group), with every signal at its default and none blocked.
 */
Napi::Value SpawnProcessJs(const Napi::CallbackInfo& info);

/** waitProcess(pid) -> Promise<{ code: number | null, signal: number | null }>: waitpid on a libuv pool thread. */
Napi::Value WaitProcessJs(const Napi::CallbackInfo& info);

}  // namespace nicplex
