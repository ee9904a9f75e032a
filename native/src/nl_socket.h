// A NETLINK_ROUTE socket bound to the network namespace of the thread that opened it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nl_wire.h"

namespace nicplex {

/** errno plus the kernel's ext-ack text (or our own explanation). */
struct Status {
  int error = 0;
  std::string message;
  bool ok() const { return error == 0; }
  static Status Ok() { return {}; }
  static Status Err(int e, std::string m = {}) { return Status{e, std::move(m)}; }
};

/** How many dumps were restarted because the kernel flagged them NLM_F_DUMP_INTR (process-wide). */
uint64_t DumpRestarts();

class NlSocket {
 public:
  NlSocket() = default;
  ~NlSocket();
  NlSocket(const NlSocket&) = delete;
  NlSocket& operator=(const NlSocket&) = delete;

  /** Opens and binds the socket (in the calling thread's netns); `groups` for event subscriptions. */
  Status Open(uint32_t groups = 0);
  int fd() const { return fd_; }

  /** Sends a request with NLM_F_ACK and waits for its ACK or error. */
  Status Request(NlBuilder& msg);
  /** Sends a single GET (no NLM_F_DUMP) and passes its one reply to `on_reply`, or returns the error. */
  Status Get(NlBuilder& msg, const std::function<void(const NlMsgView&)>& on_reply);
  /**
   * Sends a dump request and calls `on_msg` for each reply message. Restarts the whole dump (up to a
   * few times) when the kernel flags it NLM_F_DUMP_INTR; `on_restart` clears what was collected.
   */
  Status Dump(const std::function<NlBuilder()>& make_request, const std::function<void(const NlMsgView&)>& on_msg,
              const std::function<void()>& on_restart);
  /**
   * Receives one datagram into the internal buffer, growing it when MSG_PEEK|MSG_TRUNC says the
   * datagram is larger. Returns its length or -errno.
   */
  long Receive(int flags = 0);
  const uint8_t* data() const { return buf_.data(); }

 private:
  Status ReceiveUntil(uint32_t seq, const std::function<bool(const NlMsgView&, Status*)>& on_message);
  Status Send(NlBuilder& msg, uint32_t* seq_out);
  int fd_ = -1;
  uint32_t seq_ = 0;
  uint32_t port_id_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace nicplex
