// The operations a batch can hold, and the batch runner. Runs on whatever thread calls it; entering a
// namespace is allowed only on a thread started by RunOnDedicatedThread (see netns_thread.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nl_socket.h"
#include "nl_wire.h"

namespace nicplex {

/** A link by ifindex (index > 0) or by name, resolved in the batch's namespace. */
struct LinkRef {
  std::string name;
  int32_t index = 0;
  bool empty() const { return index <= 0 && name.empty(); }
  std::string Describe() const { return index > 0 ? std::to_string(index) : name; }
};

enum class OpKind {
  kListLinks, kGetLink, kSetLink, kDeleteLink, kNewLink, kSetVf,
  kAddAddress, kDeleteAddress, kListAddresses, kAddRoute, kDeleteRoute, kListRoutes,
  kEthtoolDriverInfo, kReadSysctl, kWriteSysctl, kRawDump, kAnnounce,
};

struct Op {
  OpKind kind = OpKind::kListLinks;
  LinkRef link;
  // setLink / newLink
  std::optional<bool> up;
  std::optional<std::string> new_name;
  std::optional<std::vector<uint8_t>> mac;
  std::optional<uint32_t> mtu;
  std::optional<std::string> alias;
  std::optional<LinkRef> master;  // index 0 and empty name = no master
  std::optional<std::string> target_netns;
  std::optional<int> target_netns_fd;  // an fd the caller owns (not closed here)
  std::string name;
  std::string link_kind;
  std::optional<LinkRef> parent;
  std::optional<uint32_t> macvlan_mode, ipvlan_mode, ipvlan_flags, vlan_id, vlan_protocol;
  std::string peer_name;
  std::optional<std::string> peer_netns;
  // setVf
  uint32_t vf = 0;
  std::optional<uint32_t> vlan, qos, link_state, min_tx_rate, max_tx_rate;
  std::optional<bool> spoofchk, trust;
  // addresses and routes
  uint8_t family = 0;
  std::string address;
  uint8_t prefix_len = 0;
  std::optional<std::string> gw;
  std::optional<LinkRef> dev;
  std::optional<uint32_t> table, priority, scope, advmss;
  // ethtool / sysctl / raw dump
  std::string key;
  std::string value;
  std::string what;
  bool with_vfs = true;  // listLinks: ask for IFLA_VFINFO_LIST (large on PFs with many VFs)
  // announce: the addresses (IPv4 and IPv6, no prefix) to announce on `link`
  std::vector<std::string> addresses;
  // Host-network batches (RunHostBatch): the namespace this step runs in ("" = the thread's own, i.e.
  // the agent's), the steps that undo it (run in the same namespace, in order, if a later step fails)
  // and whether a failure of this step is recorded and skipped instead of stopping the batch.
  std::string step_netns;
  std::vector<Op> undo;
  bool best_effort = false;
};

struct DriverInfo {
  std::string driver, version, firmware_version, bus_info;
};

struct OpResult {
  enum class Type { kError, kNone, kLinks, kLink, kAddrs, kRoutes, kDriverInfo, kString, kBytes } type = Type::kNone;
  std::vector<LinkRecord> links;
  std::vector<AddrRecord> addrs;
  std::vector<RouteRecord> routes;
  DriverInfo driver_info;
  std::string text;
  std::vector<uint8_t> bytes;
  int error_code = 0;  // kError: a best-effort step that failed (message in `text`)
};

struct BatchResult {
  Status status;
  size_t failed_index = 0;
  std::vector<OpResult> results;
  /** Undo steps that failed while rolling back: (index of the step being undone, status). */
  std::vector<std::pair<size_t, Status>> undo_errors;
};

/** Enters `netns` (if not empty; dedicated threads only), opens one socket, runs the ops in order. */
BatchResult RunBatch(const std::vector<Op>& ops, const std::string& netns);

/**
 * Steps that each name their namespace, on the calling (dedicated) thread: the thread enters each
 * step's namespace in turn (and returns to its own for steps with an empty one), with one netlink socket
 * per namespace. On the first failure of a step that is not best-effort, the undo steps of every step
 * that succeeded run in reverse order, best effort, and their failures are reported in `undo_errors`.
 */
BatchResult RunHostBatch(const std::vector<Op>& steps);

/** One full link dump on `sock`, with VF info unless `with_vfs` is false. */
Status DumpLinks(NlSocket& sock, std::vector<LinkRecord>* out, bool with_vfs = true);

}  // namespace nicplex
