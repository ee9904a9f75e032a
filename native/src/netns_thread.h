// The netns rule in one place: only threads started here may call setns, and they exit afterwards,
// so a namespace switch can never leak into the event loop, the libuv pool or a later job.
#pragma once

#include <functional>
#include <string>

#include "nl_socket.h"

namespace nicplex {

/** Starts a detached native thread that runs `work` and exits. Returns false if it could not start. */
bool RunOnDedicatedThread(std::function<void()> work);

/** True on a thread started by RunOnDedicatedThread or MarkDedicatedThread. */
bool OnDedicatedThread();

/** For long-lived threads owned by one object (the link monitor); they exit when the object closes. */
void MarkDedicatedThread();

/** setns(CLONE_NEWNET) into the namespace file `path`, after checking it is nsfs; dedicated threads only. */
Status EnterNetns(const std::string& path);

/** setns(CLONE_NEWNET) into an already open namespace fd; dedicated threads only. */
Status EnterNetnsFd(int fd, const std::string& what);

/** Opens a namespace file for IFLA_NET_NS_FD (O_RDONLY|O_CLOEXEC), after checking it is nsfs. */
Status OpenNetnsFd(const std::string& path, int* fd);

/** Checks that an already open fd refers to a namespace file (nsfs). */
Status CheckNetnsFd(int fd);

}  // namespace nicplex
