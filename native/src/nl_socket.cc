#include "nl_socket.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace nicplex {

namespace {
constexpr size_t kMinBuffer = 64 * 1024;  // vishvananda/netlink's size; the kernel sizes dump skbs from it
constexpr int kDumpAttempts = 8;
constexpr long kRequestTimeoutSeconds = 30;
std::atomic<uint64_t> g_dump_restarts{0};
}  // namespace

uint64_t DumpRestarts() { return g_dump_restarts.load(); }

NlSocket::~NlSocket() {
  if (fd_ >= 0) close(fd_);
}

Status NlSocket::Open(uint32_t groups) {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return Status::Err(errno, "socket(AF_NETLINK)");
  int one = 1;
  // Ext-ack gives the kernel's reason text; strict checking makes dump filters honoured. Both optional.
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  if (groups) {
    int size = 1 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  } else {
    // The kernel always answers a request; a bound keeps a lost reply from pinning a thread and a
    // Promise forever.
    timeval timeout{kRequestTimeoutSeconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = groups;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return Status::Err(errno, "bind(AF_NETLINK)");
  socklen_t len = sizeof addr;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return Status::Err(errno, "getsockname(AF_NETLINK)");
  port_id_ = addr.nl_pid;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  seq_ = static_cast<uint32_t>(ts.tv_nsec);
  buf_.resize(kMinBuffer);
  return Status::Ok();
}

long NlSocket::Receive(int flags) {
  for (;;) {
    ssize_t n = recv(fd_, buf_.data(), buf_.size(), MSG_PEEK | MSG_TRUNC | flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && !(flags & MSG_DONTWAIT)) return -ETIMEDOUT;
      return -errno;
    }
    if (static_cast<size_t>(n) > buf_.size()) buf_.resize(static_cast<size_t>(n));
    n = recv(fd_, buf_.data(), buf_.size(), flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    return n;
  }
}

Status NlSocket::Send(NlBuilder& msg, uint32_t* seq_out) {
  uint32_t seq = ++seq_;
  const std::vector<uint8_t>& bytes = msg.Finish(seq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) break;
    if (errno != EINTR) return Status::Err(errno, "sendto(netlink)");
  }
  *seq_out = seq;
  return Status::Ok();
}

// Receives until `on_message` says the exchange for `seq` is over (it then leaves the outcome in its
// Status argument); messages answering other requests are skipped.
Status NlSocket::ReceiveUntil(uint32_t seq, const std::function<bool(const NlMsgView&, Status*)>& on_message) {
  for (;;) {
    long n = Receive();
    if (n < 0) return Status::Err(static_cast<int>(-n), "recv(netlink)");
    bool done = false;
    Status result;
    bool well_formed = ForEachMessage(buf_.data(), static_cast<size_t>(n), [&](const NlMsgView& m) {
      if (m.seq != seq || m.pid != port_id_) return true;  // a stale reply to an earlier request
      done = on_message(m, &result);
      return !done;
    });
    if (done) return result;
    if (!well_formed) return Status::Err(EPROTO, "malformed netlink reply");
  }
}

static Status DecodeErrorStatus(const NlMsgView& m) {
  NlError e;
  return DecodeError(m, &e) ? Status{e.error, e.message} : Status::Err(EPROTO, "malformed NLMSG_ERROR");
}

Status NlSocket::Request(NlBuilder& msg) {
  uint32_t seq = 0;
  Status st = Send(msg, &seq);
  if (!st.ok()) return st;
  return ReceiveUntil(seq, [](const NlMsgView& m, Status* result) {
    if (m.type != NLMSG_ERROR) return false;  // e.g. an echo; the ACK follows
    *result = DecodeErrorStatus(m);
    return true;
  });
}

Status NlSocket::Get(NlBuilder& msg, const std::function<void(const NlMsgView&)>& on_reply) {
  uint32_t seq = 0;
  Status st = Send(msg, &seq);
  if (!st.ok()) return st;
  return ReceiveUntil(seq, [&](const NlMsgView& m, Status* result) {
    if (m.type == NLMSG_ERROR) {
      *result = DecodeErrorStatus(m);
      return !result->ok();  // a plain ACK; keep waiting for the reply
    }
    on_reply(m);
    return true;
  });
}

Status NlSocket::Dump(const std::function<NlBuilder()>& make_request, const std::function<void(const NlMsgView&)>& on_msg,
                      const std::function<void()>& on_restart) {
  for (int attempt = 0; attempt < kDumpAttempts; attempt++) {
    NlBuilder req = make_request();
    uint32_t seq = 0;
    Status st = Send(req, &seq);
    if (!st.ok()) return st;
    bool interrupted = false;
    bool done = false;
    Status failure;
    while (!done) {
      long n = Receive();
      if (n < 0) return Status::Err(static_cast<int>(-n), "recv(netlink dump)");
      bool well_formed = ForEachMessage(buf_.data(), static_cast<size_t>(n), [&](const NlMsgView& m) {
        if (m.seq != seq || m.pid != port_id_) return true;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type == NLMSG_DONE) {
          // NLMSG_DONE carries an int error (e.g. a dump that failed half way).
          if (m.payload_len >= 4) {
            int32_t err = 0;
            std::memcpy(&err, m.payload, 4);
            if (err < 0) failure = Status::Err(err >= -4095 ? -err : EPROTO, "netlink dump failed");
          }
          done = true;
          return false;
        }
        if (m.type == NLMSG_ERROR) {
          failure = DecodeErrorStatus(m);
          if (failure.ok()) return true;
          done = true;
          return false;
        }
        if (m.type == NLMSG_OVERRUN) {
          failure = Status::Err(ENOBUFS, "netlink overrun");
          done = true;
          return false;
        }
        on_msg(m);
        return true;
      });
      if (!well_formed && !done) return Status::Err(EPROTO, "malformed netlink dump reply");
    }
    if (!failure.ok()) return failure;
    if (!interrupted) return Status::Ok();
    g_dump_restarts++;
    on_restart();  // the dump raced a change; a consistent one needs a fresh start
  }
  return Status::Err(EAGAIN, "netlink dump kept being interrupted by concurrent changes");
}

}  // namespace nicplex
