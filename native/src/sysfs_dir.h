// Synchronous sysfs directory reader for discovery (see sysfs_dir.cc).
#pragma once

#include <napi.h>

namespace nicplex {

/**
 * readSysfsDirs(dirs, files, links, linkPrefix, subdir, subdirFiles) -> for each of `dirs`: null when
 * it cannot be listed, else { entries (sorted with strcmp), texts (each of `files` that is an entry:
 * up to 4096 bytes as latin1, trimmed like String.prototype.trim; else null), links (target of each
 * of `links` that is an entry, else null), prefixed ([name, target, ...] of every entry starting with
 * linkPrefix that is a readable symlink), subdir (when `subdir` is an entry that can be listed:
 * { entries, texts: each of subdirFiles read inside each entry, entry-major }, else null) }.
 * Names are entries, never paths.
 */
Napi::Value ReadSysfsDirsJs(const Napi::CallbackInfo& info);

}  // namespace nicplex
