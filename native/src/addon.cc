// Entry point of the nicplex native addon: N-API glue only. The netlink work lives in ops.cc and runs on
// dedicated native threads (netns_thread.cc); results come back through a thread-safe function, so the
// event loop never blocks on the kernel and no Node-owned thread ever calls setns.
#include <napi.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <linux/rtnetlink.h>

#include "netns_thread.h"
#include "nl_socket.h"
#include "nl_wire.h"
#include "ops.h"
#include "spawn.h"
#include "sysfs_dir.h"

namespace nicplex {
namespace {

// ---------- JS <-> C++ conversion ----------

Napi::Value OptionalString(Napi::Env env, const std::optional<std::string>& s) {
  return s ? Napi::String::New(env, *s) : env.Null();
}
Napi::Value OptionalNumber(Napi::Env env, const std::optional<uint32_t>& n) {
  return n ? Napi::Number::New(env, *n) : env.Null();
}

Napi::Object LinkToJs(Napi::Env env, const LinkRecord& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", l.index);
  o.Set("name", l.name);
  o.Set("flags", l.flags);
  o.Set("operState", l.oper_state);
  o.Set("mtu", l.mtu);
  o.Set("mac", OptionalString(env, l.mac));
  o.Set("kind", OptionalString(env, l.kind));
  o.Set("ipvlanMode", l.ipvlan_mode ? Napi::Number::New(env, *l.ipvlan_mode) : env.Null());
  o.Set("alias", OptionalString(env, l.alias));
  o.Set("parentIndex", OptionalNumber(env, l.parent_index));
  o.Set("masterIndex", OptionalNumber(env, l.master_index));
  o.Set("numVfs", l.num_vfs);
  o.Set("parentDevName", OptionalString(env, l.parent_dev_name));
  o.Set("linkNetnsId", l.link_netnsid ? Napi::Number::New(env, *l.link_netnsid) : env.Null());
  Napi::Array vfs = Napi::Array::New(env, l.vfs.size());
  for (size_t i = 0; i < l.vfs.size(); i++) {
    const VfRecord& v = l.vfs[i];
    Napi::Object vo = Napi::Object::New(env);
    vo.Set("vf", v.vf);
    vo.Set("mac", v.mac);
    vo.Set("vlan", v.vlan);
    vo.Set("qos", v.qos);
    vo.Set("vlanProtocol", v.vlan_proto);
    vo.Set("spoofchk", v.spoofchk);
    vo.Set("trust", v.trust);
    vo.Set("linkState", v.link_state);
    vo.Set("minTxRate", v.min_tx_rate);
    vo.Set("maxTxRate", v.max_tx_rate);
    vfs.Set(static_cast<uint32_t>(i), vo);
  }
  o.Set("vfs", vfs);
  return o;
}

Napi::Object AddrToJs(Napi::Env env, const AddrRecord& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", a.index);
  o.Set("family", a.family == AF_INET6 ? 6 : 4);
  o.Set("prefixLength", a.prefix_len);
  o.Set("address", a.address);
  o.Set("scope", a.scope);
  return o;
}

Napi::Object RouteToJs(Napi::Env env, const RouteRecord& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", r.family == AF_INET6 ? 6 : 4);
  o.Set("dst", OptionalString(env, r.dst));
  o.Set("dstLength", r.dst_len);
  o.Set("gw", OptionalString(env, r.gw));
  o.Set("oif", OptionalNumber(env, r.oif));
  o.Set("table", r.table);
  o.Set("priority", OptionalNumber(env, r.priority));
  o.Set("scope", r.scope);
  o.Set("protocol", r.protocol);
  o.Set("type", r.type);
  o.Set("mtu", OptionalNumber(env, r.mtu));
  o.Set("advmss", OptionalNumber(env, r.advmss));
  return o;
}

Napi::Value ResultToJs(Napi::Env env, const OpResult& r) {
  switch (r.type) {
    case OpResult::Type::kError: {
      Napi::Object e = Napi::Object::New(env);
      e.Set("code", r.error_code);
      e.Set("message", r.text);
      Napi::Object o = Napi::Object::New(env);
      o.Set("error", e);
      return o;
    }
    case OpResult::Type::kNone:
      return env.Undefined();
    case OpResult::Type::kLink:
      return LinkToJs(env, r.links.at(0));
    case OpResult::Type::kLinks: {
      Napi::Array a = Napi::Array::New(env, r.links.size());
      for (size_t i = 0; i < r.links.size(); i++) a.Set(static_cast<uint32_t>(i), LinkToJs(env, r.links[i]));
      return a;
    }
    case OpResult::Type::kAddrs: {
      Napi::Array a = Napi::Array::New(env, r.addrs.size());
      for (size_t i = 0; i < r.addrs.size(); i++) a.Set(static_cast<uint32_t>(i), AddrToJs(env, r.addrs[i]));
      return a;
    }
    case OpResult::Type::kRoutes: {
      Napi::Array a = Napi::Array::New(env, r.routes.size());
      for (size_t i = 0; i < r.routes.size(); i++) a.Set(static_cast<uint32_t>(i), RouteToJs(env, r.routes[i]));
      return a;
    }
    case OpResult::Type::kDriverInfo: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("driver", r.driver_info.driver);
      o.Set("version", r.driver_info.version);
      o.Set("firmwareVersion", r.driver_info.firmware_version);
      o.Set("busInfo", r.driver_info.bus_info);
      return o;
    }
    case OpResult::Type::kString:
      return Napi::String::New(env, r.text);
    case OpResult::Type::kBytes:
      return Napi::Buffer<uint8_t>::Copy(env, r.bytes.data(), r.bytes.size());
  }
  return env.Undefined();
}

/** Reads op fields; the first bad field is recorded in `error` (the TS facade validated already). */
class OpReader {
 public:
  OpReader(Napi::Object obj, std::string* error) : obj_(obj), error_(error) {}

  bool Has(const char* key) {
    Napi::Value v = obj_.Get(key);
    return !v.IsUndefined() && !v.IsNull();
  }
  std::string Str(const char* key) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsString()) return Fail(key, "a string"), std::string();
    return v.As<Napi::String>().Utf8Value();
  }
  std::optional<std::string> OptStr(const char* key) {
    if (!Has(key)) return std::nullopt;
    return Str(key);
  }
  std::optional<uint32_t> OptU32(const char* key) {
    if (!Has(key)) return std::nullopt;
    Napi::Value v = obj_.Get(key);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return Fail(key, "an unsigned 32-bit integer"), std::nullopt;
    return static_cast<uint32_t>(d);
  }
  std::optional<bool> OptBool(const char* key) {
    if (!Has(key)) return std::nullopt;
    Napi::Value v = obj_.Get(key);
    if (!v.IsBoolean()) return Fail(key, "a boolean"), std::nullopt;
    return v.As<Napi::Boolean>().Value();
  }
  std::optional<LinkRef> OptLink(const char* key) {
    if (!Has(key)) return std::nullopt;
    Napi::Value v = obj_.Get(key);
    LinkRef ref;
    if (v.IsNumber()) {
      ref.index = v.As<Napi::Number>().Int32Value();
    } else if (v.IsString()) {
      ref.name = v.As<Napi::String>().Utf8Value();
      if (ref.name.empty() || ref.name.size() > 127) Fail(key, "a link name");
    } else {
      Fail(key, "a link name or ifindex");
    }
    return ref;
  }
  LinkRef Link(const char* key) {
    std::optional<LinkRef> ref = OptLink(key);
    if (!ref) return Fail(key, "a link name or ifindex"), LinkRef();
    return *ref;
  }
  std::optional<std::vector<uint8_t>> OptMac(const char* key) {
    std::optional<std::string> text = OptStr(key);
    if (!text) return std::nullopt;
    std::vector<uint8_t> bytes;
    if (!ParseMac(*text, &bytes)) return Fail(key, "a MAC address"), std::nullopt;
    return bytes;
  }

 private:
  void Fail(const char* key, const char* expected) {
    if (error_->empty()) *error_ = std::string("field ") + key + " must be " + expected;
  }
  Napi::Object obj_;
  std::string* error_;
};

bool ReadOp(Napi::Value value, Op* op, std::string* error) {
  if (!value.IsObject()) {
    *error = "each step must be an object";
    return false;
  }
  OpReader r(value.As<Napi::Object>(), error);
  std::string kind = r.Str("op");
  if (kind == "listLinks") {
    op->kind = OpKind::kListLinks;
    op->with_vfs = r.OptBool("withVfs").value_or(true);
  } else if (kind == "getLink") {
    op->kind = OpKind::kGetLink;
    op->link = r.Link("link");
  } else if (kind == "setLink") {
    op->kind = OpKind::kSetLink;
    op->link = r.Link("link");
    op->up = r.OptBool("up");
    op->new_name = r.OptStr("newName");
    op->mac = r.OptMac("mac");
    op->mtu = r.OptU32("mtu");
    op->alias = r.OptStr("alias");
    op->master = r.OptLink("master");
    if (op->master && op->master->index == 0 && op->master->name.empty()) op->master = LinkRef();
    op->target_netns = r.OptStr("targetNetns");
    if (std::optional<uint32_t> fd = r.OptU32("targetNetnsFd")) op->target_netns_fd = static_cast<int>(*fd);
  } else if (kind == "deleteLink") {
    op->kind = OpKind::kDeleteLink;
    op->link = r.Link("link");
  } else if (kind == "newLink") {
    op->kind = OpKind::kNewLink;
    op->name = r.Str("name");
    op->link_kind = r.Str("kind");
    op->parent = r.OptLink("parent");
    op->mtu = r.OptU32("mtu");
    op->mac = r.OptMac("mac");
    op->target_netns = r.OptStr("targetNetns");
    op->macvlan_mode = r.OptU32("macvlanMode");
    op->ipvlan_mode = r.OptU32("ipvlanMode");
    op->ipvlan_flags = r.OptU32("ipvlanFlags");
    op->vlan_id = r.OptU32("vlanId");
    op->vlan_protocol = r.OptU32("vlanProtocol");
    if (op->link_kind == "veth") op->peer_name = r.Str("peerName");
    op->peer_netns = r.OptStr("peerNetns");
  } else if (kind == "setVf") {
    op->kind = OpKind::kSetVf;
    op->link = r.Link("link");
    op->vf = r.OptU32("vf").value_or(0);
    op->mac = r.OptMac("mac");
    op->vlan = r.OptU32("vlan");
    op->qos = r.OptU32("qos");
    op->vlan_protocol = r.OptU32("vlanProtocol");
    op->spoofchk = r.OptBool("spoofchk");
    op->trust = r.OptBool("trust");
    op->link_state = r.OptU32("linkState");
    op->min_tx_rate = r.OptU32("minTxRate");
    op->max_tx_rate = r.OptU32("maxTxRate");
  } else if (kind == "addAddress" || kind == "deleteAddress") {
    op->kind = kind == "addAddress" ? OpKind::kAddAddress : OpKind::kDeleteAddress;
    op->link = r.Link("link");
    op->address = r.Str("address");
    op->prefix_len = static_cast<uint8_t>(r.OptU32("prefixLength").value_or(255));
  } else if (kind == "listAddresses") {
    op->kind = OpKind::kListAddresses;
  } else if (kind == "addRoute" || kind == "deleteRoute") {
    op->kind = kind == "addRoute" ? OpKind::kAddRoute : OpKind::kDeleteRoute;
    op->family = static_cast<uint8_t>(r.OptU32("family").value_or(4));
    op->address = r.OptStr("dst").value_or("");
    op->prefix_len = static_cast<uint8_t>(r.OptU32("dstLength").value_or(0));
    op->gw = r.OptStr("gw");
    op->dev = r.OptLink("dev");
    op->table = r.OptU32("table");
    op->priority = r.OptU32("priority");
    op->scope = r.OptU32("scope");
    op->mtu = r.OptU32("mtu");
    op->advmss = r.OptU32("advmss");
  } else if (kind == "listRoutes") {
    op->kind = OpKind::kListRoutes;
    op->family = static_cast<uint8_t>(r.OptU32("family").value_or(0));
    op->table = r.OptU32("table");
  } else if (kind == "ethtoolDriverInfo") {
    op->kind = OpKind::kEthtoolDriverInfo;
    op->key = r.Str("ifname");
  } else if (kind == "readSysctl" || kind == "writeSysctl") {
    op->kind = kind == "readSysctl" ? OpKind::kReadSysctl : OpKind::kWriteSysctl;
    op->key = r.Str("key");
    if (op->key.find("..") != std::string::npos || op->key.rfind("net/", 0) != 0) *error = "sysctl key must be under net/ without '..'";
    if (kind == "writeSysctl") op->value = r.Str("value");
  } else if (kind == "announce") {
    op->kind = OpKind::kAnnounce;
    op->link = r.Link("link");
    Napi::Value list = value.As<Napi::Object>().Get("addresses");
    if (!list.IsArray()) {
      if (error->empty()) *error = "field addresses must be an array of IP addresses";
    } else {
      Napi::Array array = list.As<Napi::Array>();
      for (uint32_t i = 0; i < array.Length(); i++) {
        Napi::Value item = array.Get(i);
        if (!item.IsString()) {
          if (error->empty()) *error = "field addresses must hold strings";
          break;
        }
        op->addresses.push_back(item.As<Napi::String>().Utf8Value());
      }
    }
  } else if (kind == "rawDump") {
    op->kind = OpKind::kRawDump;
    op->what = r.Str("what");
  } else if (error->empty()) {
    *error = "unknown step op " + kind;
  }
  return error->empty();
}

/** A host-batch step: an op plus the namespace it runs in, its undo ops and the best-effort flag. */
bool ReadHostStep(Napi::Value value, Op* op, std::string* error) {
  if (!ReadOp(value, op, error)) return false;
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value netns = obj.Get("netns");
  if (netns.IsString()) op->step_netns = netns.As<Napi::String>().Utf8Value();
  else if (!netns.IsUndefined() && !netns.IsNull()) return *error = "field netns must be a namespace path", false;
  Napi::Value best = obj.Get("bestEffort");
  op->best_effort = best.IsBoolean() && best.As<Napi::Boolean>().Value();
  Napi::Value undo = obj.Get("undo");
  if (undo.IsUndefined() || undo.IsNull()) return true;
  if (!undo.IsArray()) return *error = "field undo must be an array of steps", false;
  Napi::Array list = undo.As<Napi::Array>();
  op->undo.resize(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    if (!ReadOp(list.Get(i), &op->undo[i], error)) return *error = "undo[" + std::to_string(i) + "]: " + *error, false;
    Napi::Value undoNetns = list.Get(i).As<Napi::Object>().Get("netns");
    // An undo step runs where its step ran unless it names another namespace.
    op->undo[i].step_netns = undoNetns.IsString() ? undoNetns.As<Napi::String>().Utf8Value() : op->step_netns;
  }
  return true;
}

Napi::Object Failure(Napi::Env env, int code, const std::string& message, size_t index) {
  Napi::Object err = Napi::Object::New(env);
  err.Set("code", code);
  err.Set("message", message);
  err.Set("opIndex", static_cast<double>(index));
  Napi::Object outcome = Napi::Object::New(env);
  outcome.Set("ok", false);
  outcome.Set("error", err);
  return outcome;
}

// ---------- batches on dedicated threads ----------

struct BatchJob {
  explicit BatchJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  std::vector<Op> ops;
  std::string netns;
  bool host = false;  // a host batch: each step names its namespace and carries undo steps
  BatchResult result;
};

struct AddonData;
void CompleteBatch(Napi::Env env, Napi::Function, AddonData* data, BatchJob* job);
using BatchTsfn = Napi::TypedThreadSafeFunction<AddonData, BatchJob, CompleteBatch>;

struct AddonData {
  BatchTsfn tsfn;
  size_t pending = 0;  // batches in flight; the TSFN keeps the loop alive only while some are
};

void CompleteBatch(Napi::Env env, Napi::Function, AddonData* data, BatchJob* job) {
  std::unique_ptr<BatchJob> owned(job);
  if (env == nullptr || job == nullptr) return;  // teardown: nobody is waiting any more
  if (data && --data->pending == 0) data->tsfn.Unref(env);
  Napi::HandleScope scope(env);
  if (!job->result.status.ok()) {
    Napi::Object failure = Failure(env, job->result.status.error, job->result.status.message, job->result.failed_index);
    const auto& undo_errors = job->result.undo_errors;
    Napi::Array list = Napi::Array::New(env, undo_errors.size());
    for (size_t i = 0; i < undo_errors.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("opIndex", static_cast<double>(undo_errors[i].first));
      e.Set("code", undo_errors[i].second.error);
      e.Set("message", undo_errors[i].second.message);
      list.Set(static_cast<uint32_t>(i), e);
    }
    failure.Set("undoErrors", list);
    job->deferred.Resolve(failure);
    return;
  }
  Napi::Array results = Napi::Array::New(env, job->result.results.size());
  for (size_t i = 0; i < job->result.results.size(); i++) results.Set(static_cast<uint32_t>(i), ResultToJs(env, job->result.results[i]));
  Napi::Object outcome = Napi::Object::New(env);
  outcome.Set("ok", true);
  outcome.Set("results", results);
  job->deferred.Resolve(outcome);
}

Napi::Value StartBatch(const Napi::CallbackInfo& info, bool host) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  auto job = std::make_unique<BatchJob>(env);
  job->host = host;
  Napi::Promise promise = job->deferred.Promise();
  if (info.Length() < 1 || !info[0].IsArray()) {
    job->deferred.Resolve(Failure(env, EINVAL, host ? "runHostBatch expects an array of steps" : "runBatch expects an array of steps", 0));
    return promise;
  }
  Napi::Array steps = info[0].As<Napi::Array>();
  job->ops.resize(steps.Length());
  for (uint32_t i = 0; i < steps.Length(); i++) {
    std::string error;
    if (!(host ? ReadHostStep(steps.Get(i), &job->ops[i], &error) : ReadOp(steps.Get(i), &job->ops[i], &error))) {
      job->deferred.Resolve(Failure(env, EINVAL, error, i));
      return promise;
    }
  }
  if (!host && info.Length() > 1 && info[1].IsString()) job->netns = info[1].As<Napi::String>().Utf8Value();
  if (data->pending++ == 0) data->tsfn.Ref(env);
  BatchJob* raw = job.release();
  BatchTsfn tsfn = data->tsfn;
  bool started = RunOnDedicatedThread([raw, tsfn]() mutable {
    raw->result = raw->host ? RunHostBatch(raw->ops) : RunBatch(raw->ops, raw->netns);
    if (tsfn.NonBlockingCall(raw) != napi_ok) delete raw;  // the environment is shutting down
  });
  if (!started) {
    raw->result.status = Status::Err(EAGAIN, "cannot start a native thread");
    CompleteBatch(env, Napi::Function(), data, raw);
  }
  return promise;
}

Napi::Value RunBatchJs(const Napi::CallbackInfo& info) { return StartBatch(info, false); }

Napi::Value RunHostBatchJs(const Napi::CallbackInfo& info) { return StartBatch(info, true); }

// ---------- link monitor ----------

struct MonitorEvents;
struct MonitorState;
void DeliverEvents(Napi::Env env, Napi::Function callback, MonitorState* state, MonitorEvents* events);
using MonitorTsfn = Napi::TypedThreadSafeFunction<MonitorState, MonitorEvents, DeliverEvents>;

struct MonitorEvents {
  std::vector<std::pair<bool, LinkRecord>> links;  // (deleted?, link)
  Status error;
};

struct MonitorState {
  MonitorTsfn tsfn;
  std::thread thread;
  int wake_fd = -1;
  std::atomic<bool> closed{false};

  void Close() {
    if (closed.exchange(true)) return;
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof one) < 0) {
      // eventfd writes only fail on counter overflow; the thread also checks `closed` on wake-up.
    }
    if (thread.joinable()) thread.join();
    close(wake_fd);
    tsfn.Release();
  }
};

void DeliverEvents(Napi::Env env, Napi::Function callback, MonitorState* state, MonitorEvents* events) {
  std::unique_ptr<MonitorEvents> owned(events);
  if (env == nullptr || events == nullptr || state == nullptr || state->closed) return;
  Napi::HandleScope scope(env);
  if (!events->error.ok()) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("type", "error");
    e.Set("code", events->error.error);
    e.Set("message", events->error.message);
    callback.Call({e});
    return;
  }
  for (const auto& [deleted, link] : events->links) {
    if (state->closed) return;  // the callback may close the monitor half way through a batch
    Napi::Object e = Napi::Object::New(env);
    e.Set("type", deleted ? "del" : "new");
    e.Set("link", LinkToJs(env, link));
    callback.Call({e});
    if (env.IsExceptionPending()) return;
  }
}

void MonitorThread(MonitorState* state, std::string netns, std::promise<Status>* ready) {
  MarkDedicatedThread();
  NlSocket sock;
  Status st = netns.empty() ? Status::Ok() : EnterNetns(netns);
  if (st.ok()) st = sock.Open(RTMGRP_LINK);
  ready->set_value(st);
  if (!st.ok()) return;
  pollfd fds[2] = {{sock.fd(), POLLIN, 0}, {state->wake_fd, POLLIN, 0}};
  while (!state->closed) {
    int rc = poll(fds, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || (fds[1].revents & POLLIN) || state->closed) break;
    long n = sock.Receive(MSG_DONTWAIT);
    if (n == -EAGAIN || n == -EINTR) continue;
    auto events = std::make_unique<MonitorEvents>();
    if (n == -ENOBUFS) {
      // The kernel dropped events: re-read every link so consumers converge on the current state.
      NlSocket dump;
      Status ds = dump.Open();
      std::vector<LinkRecord> links;
      if (ds.ok()) ds = DumpLinks(dump, &links);
      if (!ds.ok()) events->error = ds;
      for (LinkRecord& l : links) events->links.emplace_back(false, std::move(l));
    } else if (n < 0) {
      events->error = Status::Err(static_cast<int>(-n), "link monitor receive failed");
    } else {
      ForEachMessage(sock.data(), static_cast<size_t>(n), [&](const NlMsgView& m) {
        LinkRecord link;
        if (DecodeLink(m, &link)) events->links.emplace_back(m.type == RTM_DELLINK, std::move(link));
        return true;
      });
    }
    bool fatal = !events->error.ok();
    if (!events->links.empty() || fatal) {
      if (state->tsfn.NonBlockingCall(events.release()) != napi_ok) break;
    }
    if (fatal) break;
  }
}

Napi::Value MonitorLinksJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "monitorLinks(netns, onEvent) needs a callback").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string netns = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
  auto state = std::make_shared<MonitorState>();
  state->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (state->wake_fd < 0) {
    Napi::Error::New(env, "eventfd failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  state->tsfn = MonitorTsfn::New(env, info[1].As<Napi::Function>(), "nicplex-link-monitor", 0, 1, state.get());
  std::promise<Status> ready;
  std::future<Status> ready_future = ready.get_future();
  state->thread = std::thread(MonitorThread, state.get(), netns, &ready);
  // Wait until the socket is subscribed, so a change made right after monitorLinks() returns is seen.
  Status st = ready_future.get();
  if (!st.ok()) {
    state->Close();
    Napi::Error err = Napi::Error::New(env, st.message);
    err.Set("code", Napi::Number::New(env, st.error));
    err.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, [state](const Napi::CallbackInfo&) { state->Close(); }, "close"));
  // A handle dropped without close() still stops its thread when collected.
  handle.AddFinalizer([](Napi::Env, std::shared_ptr<MonitorState>* holder) {
    (*holder)->Close();
    delete holder;
  }, new std::shared_ptr<MonitorState>(state));
  return handle;
}

// ---------- netns-rule probe ----------

uint64_t ThreadNetnsInode() {
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

struct ProbeShared {
  explicit ProbeShared(Napi::Env env, size_t n) : deferred(Napi::Promise::Deferred::New(env)), count(n) {}
  Napi::Promise::Deferred deferred;
  size_t count;
  std::mutex mu;
  std::condition_variable cv;
  size_t arrived = 0;
  size_t finished = 0;
  std::vector<std::pair<pid_t, uint64_t>> seen;
};

/** Occupies one libuv pool thread until all probes arrived, so `count` probes land on distinct threads. */
class PoolProbe : public Napi::AsyncWorker {
 public:
  PoolProbe(Napi::Env env, std::shared_ptr<ProbeShared> shared) : Napi::AsyncWorker(env), shared_(std::move(shared)) {}
  void Execute() override {
    pid_t tid = gettid();
    uint64_t inode = ThreadNetnsInode();
    std::unique_lock<std::mutex> lock(shared_->mu);
    shared_->seen.emplace_back(tid, inode);
    shared_->arrived++;
    shared_->cv.notify_all();
    shared_->cv.wait_for(lock, std::chrono::seconds(3), [this] { return shared_->arrived >= shared_->count; });
  }
  void OnOK() override {
    if (++shared_->finished < shared_->count) return;
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("main", static_cast<double>(ThreadNetnsInode()));
    Napi::Array pool = Napi::Array::New(env, shared_->seen.size());
    for (size_t i = 0; i < shared_->seen.size(); i++) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("tid", shared_->seen[i].first);
      p.Set("inode", static_cast<double>(shared_->seen[i].second));
      pool.Set(static_cast<uint32_t>(i), p);
    }
    out.Set("pool", pool);
    shared_->deferred.Resolve(out);
  }

 private:
  std::shared_ptr<ProbeShared> shared_;
};

Napi::Value PoolThreadNetnsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t count = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 4;
  if (count == 0 || count > 1024) count = 4;
  auto shared = std::make_shared<ProbeShared>(env, count);
  for (uint32_t i = 0; i < count; i++) (new PoolProbe(env, shared))->Queue();
  return shared->deferred.Promise();
}

// ---------- parser entry for tests and corpus tooling ----------

Napi::Value DecodeMessagesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "decodeMessages(bytes: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  Napi::Array links = Napi::Array::New(env), addrs = Napi::Array::New(env), routes = Napi::Array::New(env), errors = Napi::Array::New(env);
  ForEachMessage(bytes.Data(), bytes.ByteLength(), [&](const NlMsgView& m) {
    LinkRecord l;
    AddrRecord a;
    RouteRecord r;
    NlError e;
    if (DecodeLink(m, &l)) links.Set(links.Length(), LinkToJs(env, l));
    else if (DecodeAddr(m, &a)) addrs.Set(addrs.Length(), AddrToJs(env, a));
    else if (DecodeRoute(m, &r)) routes.Set(routes.Length(), RouteToJs(env, r));
    else if (DecodeError(m, &e)) errors.Set(errors.Length(), e.error);
    return true;
  });
  Napi::Object out = Napi::Object::New(env);
  out.Set("links", links);
  out.Set("addresses", addrs);
  out.Set("routes", routes);
  out.Set("errors", errors);
  return out;
}

Napi::Value StatsJs(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("dumpRestarts", static_cast<double>(DumpRestarts()));
  return out;
}

Napi::Value AbiVersion(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), 3); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->tsfn = BatchTsfn::New(env, "nicplex-netlink", 0, 1, data);
  data->tsfn.Unref(env);
  env.SetInstanceData<AddonData>(data);
  exports.Set("abiVersion", Napi::Function::New(env, AbiVersion));
  exports.Set("runBatch", Napi::Function::New(env, RunBatchJs));
  exports.Set("runHostBatch", Napi::Function::New(env, RunHostBatchJs));
  exports.Set("monitorLinks", Napi::Function::New(env, MonitorLinksJs));
  exports.Set("poolThreadNetns", Napi::Function::New(env, PoolThreadNetnsJs));
  exports.Set("decodeMessages", Napi::Function::New(env, DecodeMessagesJs));
  exports.Set("stats", Napi::Function::New(env, StatsJs));
  exports.Set("readSysfsDirs", Napi::Function::New(env, ReadSysfsDirsJs));
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcessJs));
  exports.Set("waitProcess", Napi::Function::New(env, WaitProcessJs));
  return exports;
}

}  // namespace
}  // namespace nicplex

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return nicplex::Init(env, exports); }

NODE_API_MODULE(nicplex_native, InitAddon)
