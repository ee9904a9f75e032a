// Many sysfs directories in one call: for each, its entries, the small attribute files and symlinks
// asked for, and optionally one subdirectory (e.g. `net`) with the same files read in each of its entries.
// Discovery reads ~20 such items for each of thousands of PCI functions; from JS each one is a
// separate fs call (argument checks, a path walk through the bus symlink, a string per step),
// while here the directory is opened once and every item is read relative to it.
//
// The reads are syscall-bound (about 20 per PCI function), so large batches are split over a few
// worker threads that fill plain C++ results; only the calling thread touches JS values, once all
// reads are done. No thread changes namespaces here: sysfs shows what the mount's namespace sees,
// whichever thread reads it.
#include "sysfs_dir.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nicplex {
namespace {

// sysfs attribute files are at most one page, which is also what the JS reader reads.
constexpr size_t kPage = 4096;
// Below this many directories one thread is faster than starting others.
constexpr size_t kDirsPerThread = 96;
constexpr unsigned kMaxThreads = 4;

using Text = std::optional<std::string>;

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

// Contents (up to one page, trimmed as String.prototype.trim does on latin1) of `path` relative to `dirFd`.
Text ReadText(int dirFd, const char* path) {
  int fd = openat(dirFd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  unsigned char buffer[kPage];
  ssize_t length = pread(fd, buffer, kPage, 0);
  close(fd);
  if (length < 0) return std::nullopt;
  size_t start = 0, end = static_cast<size_t>(length);
  while (start < end && IsTrimmed(buffer[start])) start++;
  while (end > start && IsTrimmed(buffer[end - 1])) end--;
  return std::string(reinterpret_cast<const char*>(buffer) + start, end - start);
}

Text ReadLink(int dirFd, const char* path) {
  char buffer[PATH_MAX];
  ssize_t length = readlinkat(dirFd, path, buffer, sizeof(buffer));
  if (length < 0 || static_cast<size_t>(length) >= sizeof(buffer)) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(length));
}

struct Request {
  std::vector<std::string> files, links, subdirFiles, keepNames, keepPrefixes;
  std::string prefix, subdir;
  bool filterEntries = false;

  bool Keeps(const std::string& entry) const {
    if (!filterEntries) return true;
    if (std::binary_search(keepNames.begin(), keepNames.end(), entry)) return true;
    for (const std::string& keep : keepPrefixes) {
      if (entry.compare(0, keep.size(), keep) == 0) return true;
    }
    return false;
  }
};

struct SubdirResult {
  std::vector<std::string> entries;
  std::vector<Text> texts;
};

struct DirResult {
  bool listed = false;
  size_t entryCount = 0;
  std::vector<std::string> entries;
  std::vector<Text> texts, links;
  std::vector<std::string> prefixed;
  std::optional<SubdirResult> subdir;
};

// `sub` (an entry of the directory open as dirFd) listed, and each of `files` read in each of its entries.
std::optional<SubdirResult> ReadSubdir(int dirFd, const std::string& sub, const std::vector<std::string>& files) {
  int fd = openat(dirFd, sub.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  SubdirResult out;
  if (!ListEntries(fd, &out.entries)) {
    close(fd);
    return std::nullopt;
  }
  out.texts.reserve(out.entries.size() * files.size());
  for (const std::string& entry : out.entries) {
    for (const std::string& file : files) out.texts.push_back(ReadText(fd, (entry + "/" + file).c_str()));
  }
  close(fd);
  return out;
}

void ReadOne(const std::string& dir, const Request& request, DirResult* out) {
  int dirFd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) return;
  std::vector<std::string> entries;
  if (!ListEntries(dirFd, &entries)) {
    close(dirFd);
    return;
  }
  out->listed = true;
  out->entryCount = entries.size();
  auto isEntry = [&](const std::string& name) { return IsPlainName(name) && std::binary_search(entries.begin(), entries.end(), name); };
  out->texts.reserve(request.files.size());
  for (const std::string& name : request.files) out->texts.push_back(isEntry(name) ? ReadText(dirFd, name.c_str()) : std::nullopt);
  out->links.reserve(request.links.size());
  for (const std::string& name : request.links) out->links.push_back(isEntry(name) ? ReadLink(dirFd, name.c_str()) : std::nullopt);
  if (!request.prefix.empty()) {
    for (const std::string& name : entries) {
      if (name.compare(0, request.prefix.size(), request.prefix) != 0) continue;
      Text target = ReadLink(dirFd, name.c_str());
      if (!target) continue;
      out->prefixed.push_back(name);
      out->prefixed.push_back(std::move(*target));
    }
  }
  if (isEntry(request.subdir)) out->subdir = ReadSubdir(dirFd, request.subdir, request.subdirFiles);
  close(dirFd);
  if (request.filterEntries) {
    for (std::string& entry : entries) {
      if (request.Keeps(entry)) out->entries.push_back(std::move(entry));
    }
  } else {
    out->entries = std::move(entries);
  }
}

// Every directory read, on up to kMaxThreads threads taking directories in turn.
std::vector<DirResult> ReadAll(const std::vector<Text>& dirs, const Request& request) {
  std::vector<DirResult> results(dirs.size());
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i = next.fetch_add(1); i < dirs.size(); i = next.fetch_add(1)) {
      if (dirs[i]) ReadOne(*dirs[i], request, &results[i]);
    }
  };
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  size_t threads = std::min<size_t>({static_cast<size_t>(cores), kMaxThreads, dirs.size() / kDirsPerThread});
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < threads; i++) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no thread to spare: the calling thread reads the rest
    }
  }
  work();
  for (std::thread& helper : helpers) helper.join();
  return results;
}

Napi::Value JsText(Napi::Env env, const Text& text) {
  if (!text) return env.Null();
  napi_value value;
  if (napi_create_string_latin1(env, text->data(), text->size(), &value) != napi_ok) return env.Null();
  return Napi::Value(env, value);
}

Napi::Array JsTexts(Napi::Env env, const std::vector<Text>& texts) {
  Napi::Array array = Napi::Array::New(env, texts.size());
  for (size_t i = 0; i < texts.size(); i++) array.Set(static_cast<uint32_t>(i), JsText(env, texts[i]));
  return array;
}

Napi::Array JsStrings(Napi::Env env, const std::vector<std::string>& values) {
  Napi::Array array = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) array.Set(static_cast<uint32_t>(i), Napi::String::New(env, values[i]));
  return array;
}

Napi::Value JsResult(Napi::Env env, const DirResult& result) {
  if (!result.listed) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("entries", JsStrings(env, result.entries));
  out.Set("entryCount", Napi::Number::New(env, static_cast<double>(result.entryCount)));
  out.Set("texts", JsTexts(env, result.texts));
  // Link targets are file names: UTF-8 as fs.readlinkSync decodes them (texts are latin1 like the JS reader).
  Napi::Array links = Napi::Array::New(env, result.links.size());
  for (size_t i = 0; i < result.links.size(); i++) {
    links.Set(static_cast<uint32_t>(i), result.links[i] ? Napi::Value(Napi::String::New(env, *result.links[i])) : env.Null());
  }
  out.Set("links", links);
  out.Set("prefixed", JsStrings(env, result.prefixed));
  if (result.subdir) {
    Napi::Object sub = Napi::Object::New(env);
    sub.Set("entries", JsStrings(env, result.subdir->entries));
    sub.Set("texts", JsTexts(env, result.subdir->texts));
    out.Set("subdir", sub);
  } else {
    out.Set("subdir", env.Null());
  }
  return out;
}

}  // namespace

Napi::Value ReadSysfsDirsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsString() || !info[4].IsString() || !info[5].IsArray() ||
      (info.Length() > 6 && !info[6].IsUndefined() && !info[6].IsNull() && !info[6].IsObject())) {
    Napi::TypeError::New(env, "readSysfsDirs(dirs: string[], files: string[], links: string[], linkPrefix: string, subdir: string, subdirFiles: string[], keepEntries?: {names: string[], prefixes: string[]})").ThrowAsJavaScriptException();
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
  if (info.Length() > 6 && info[6].IsObject()) {
    Napi::Object keep = info[6].As<Napi::Object>();
    Napi::Value names = keep.Get("names"), prefixes = keep.Get("prefixes");
    if (!names.IsArray() || !prefixes.IsArray()) {
      Napi::TypeError::New(env, "readSysfsDirs: keepEntries needs names: string[] and prefixes: string[]").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    request.filterEntries = true;
    request.keepNames = StringList(names);
    std::sort(request.keepNames.begin(), request.keepNames.end());
    request.keepPrefixes = StringList(prefixes);
  }
  Napi::Array dirList = info[0].As<Napi::Array>();
  std::vector<Text> dirs(dirList.Length());
  for (uint32_t i = 0; i < dirs.size(); i++) {
    Napi::Value dir = dirList.Get(i);
    if (dir.IsString()) dirs[i] = dir.As<Napi::String>().Utf8Value();
  }
  std::vector<DirResult> results = ReadAll(dirs, request);
  Napi::Array out = Napi::Array::New(env, results.size());
  for (uint32_t i = 0; i < results.size(); i++) out.Set(i, JsResult(env, results[i]));
  return out;
}

}  // namespace nicplex
