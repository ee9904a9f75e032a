// Many sysfs directories in one call: for each, its entries, the small attribute files and symlinks
// asked for, and optionally one subdirectory (e.g. `net`) with the same files read in each of its entries.
// Discovery reads ~20 such items for each of thousands of PCI functions; from JS each one is a
// separate fs call (argument checks, a path walk through the bus symlink, a string per step),
// while here the directory is opened once and every item is read relative to it.
#include "sysfs_dir.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace nicplex {
namespace {

// sysfs attribute files are at most one page, which is also what the JS reader reads.
constexpr size_t kPage = 4096;

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

std::vector<std::string> StringList(const Napi::Value& value) {
  std::vector<std::string> out;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (item.IsString()) out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

// A name asked for must be one entry of its directory, never a path.
bool IsPlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// Entry names of an open directory, sorted with strcmp (the order fs.readdirSync gives: libuv
// sorts so); false when it cannot be read.
bool ListEntries(int dirFd, std::vector<std::string>* out) {
  alignas(LinuxDirent64) char buffer[32768];
  for (;;) {
    long bytes = syscall(SYS_getdents64, dirFd, buffer, sizeof(buffer));
    if (bytes < 0) return false;
    if (bytes == 0) break;
    for (long offset = 0; offset < bytes;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      const char* name = entry->d_name;
      if (!(name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) out->emplace_back(name);
      offset += entry->d_reclen;
    }
  }
  std::sort(out->begin(), out->end());
  return true;
}

// The bytes String.prototype.trim removes from a latin1 string: \t \n \v \f \r, space and NBSP.
bool IsTrimmed(unsigned char byte) { return (byte >= 9 && byte <= 13) || byte == 32 || byte == 0xA0; }

// Contents (up to one page, latin1, trimmed as String.prototype.trim does) of `path` relative to `dirFd`, or null.
Napi::Value ReadText(Napi::Env env, int dirFd, const char* path) {
  int fd = openat(dirFd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return env.Null();
  unsigned char buffer[kPage];
  ssize_t length = pread(fd, buffer, kPage, 0);
  close(fd);
  if (length < 0) return env.Null();
  size_t start = 0, end = static_cast<size_t>(length);
  while (start < end && IsTrimmed(buffer[start])) start++;
  while (end > start && IsTrimmed(buffer[end - 1])) end--;
  napi_value text;
  if (napi_create_string_latin1(env, reinterpret_cast<const char*>(buffer) + start, end - start, &text) != napi_ok) return env.Null();
  return Napi::Value(env, text);
}

Napi::Value ReadLink(Napi::Env env, int dirFd, const char* path) {
  char buffer[PATH_MAX];
  ssize_t length = readlinkat(dirFd, path, buffer, sizeof(buffer));
  if (length < 0 || static_cast<size_t>(length) >= sizeof(buffer)) return env.Null();
  return Napi::String::New(env, buffer, static_cast<size_t>(length));
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string>& values) {
  Napi::Array array = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) array.Set(static_cast<uint32_t>(i), Napi::String::New(env, values[i]));
  return array;
}

// `sub` (an entry of the directory open as dirFd) listed, and each of `files` read in each of its entries.
Napi::Value ReadSubdir(Napi::Env env, int dirFd, const std::string& sub, const std::vector<std::string>& files) {
  int fd = openat(dirFd, sub.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return env.Null();
  std::vector<std::string> entries;
  if (!ListEntries(fd, &entries)) {
    close(fd);
    return env.Null();
  }
  Napi::Array texts = Napi::Array::New(env, entries.size() * files.size());
  uint32_t slot = 0;
  for (const std::string& entry : entries) {
    for (const std::string& file : files) texts.Set(slot++, ReadText(env, fd, (entry + "/" + file).c_str()));
  }
  close(fd);
  Napi::Object out = Napi::Object::New(env);
  out.Set("entries", Strings(env, entries));
  out.Set("texts", texts);
  return out;
}

struct Request {
  std::vector<std::string> files, links, subdirFiles;
  std::string prefix, subdir;
};

Napi::Value ReadOne(Napi::Env env, const std::string& dir, const Request& request) {
  int dirFd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) return env.Null();
  std::vector<std::string> entries;
  if (!ListEntries(dirFd, &entries)) {
    close(dirFd);
    return env.Null();
  }
  auto isEntry = [&](const std::string& name) { return IsPlainName(name) && std::binary_search(entries.begin(), entries.end(), name); };

  Napi::Array texts = Napi::Array::New(env, request.files.size());
  for (size_t i = 0; i < request.files.size(); i++) {
    const std::string& name = request.files[i];
    texts.Set(static_cast<uint32_t>(i), isEntry(name) ? ReadText(env, dirFd, name.c_str()) : env.Null());
  }
  Napi::Array linkTargets = Napi::Array::New(env, request.links.size());
  for (size_t i = 0; i < request.links.size(); i++) {
    const std::string& name = request.links[i];
    linkTargets.Set(static_cast<uint32_t>(i), isEntry(name) ? ReadLink(env, dirFd, name.c_str()) : env.Null());
  }
  Napi::Array prefixed = Napi::Array::New(env);
  if (!request.prefix.empty()) {
    uint32_t slot = 0;
    for (const std::string& name : entries) {
      if (name.compare(0, request.prefix.size(), request.prefix) != 0) continue;
      Napi::Value target = ReadLink(env, dirFd, name.c_str());
      if (target.IsNull()) continue;
      prefixed.Set(slot++, Napi::String::New(env, name));
      prefixed.Set(slot++, target);
    }
  }
  Napi::Value sub = isEntry(request.subdir) ? ReadSubdir(env, dirFd, request.subdir, request.subdirFiles) : env.Null();
  close(dirFd);

  Napi::Object out = Napi::Object::New(env);
  out.Set("entries", Strings(env, entries));
  out.Set("texts", texts);
  out.Set("links", linkTargets);
  out.Set("prefixed", prefixed);
  out.Set("subdir", sub);
  return out;
}

}  // namespace

Napi::Value ReadSysfsDirsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsString() || !info[4].IsString() || !info[5].IsArray()) {
    Napi::TypeError::New(env, "readSysfsDirs(dirs: string[], files: string[], links: string[], linkPrefix: string, subdir: string, subdirFiles: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Request request;
  request.files = StringList(info[1]);
  request.links = StringList(info[2]);
  request.prefix = info[3].As<Napi::String>().Utf8Value();
  request.subdir = info[4].As<Napi::String>().Utf8Value();
  request.subdirFiles = StringList(info[5]);
  for (const std::string& name : request.subdirFiles) {
    if (!IsPlainName(name)) {
      Napi::TypeError::New(env, "readSysfsDirs: subdirFiles must be plain names").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  Napi::Array dirs = info[0].As<Napi::Array>();
  const uint32_t count = dirs.Length();
  Napi::Array out = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value dir = dirs.Get(i);
    out.Set(i, dir.IsString() ? ReadOne(env, dir.As<Napi::String>().Utf8Value(), request) : env.Null());
  }
  return out;
}

}  // namespace nicplex
