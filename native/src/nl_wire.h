// rtnetlink wire format: a message builder and a bounds-checked parser/decoder. No I/O and no N-API
// here, so the libFuzzer target (native/fuzz/) can drive the decoder with arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nicplex {

// ---------- builder ----------

/** One netlink request under construction: header, fixed payload, attributes, nests. */
class NlBuilder {
 public:
  NlBuilder(uint16_t type, uint16_t flags);
  /** Appends a fixed header (ifinfomsg, ifaddrmsg, rtmsg...) right after nlmsghdr. */
  void PutFixed(const void* data, size_t len);
  void PutAttr(uint16_t type, const void* data, size_t len);
  void PutU8(uint16_t type, uint8_t v) { PutAttr(type, &v, 1); }
  void PutU16(uint16_t type, uint16_t v) { PutAttr(type, &v, 2); }
  void PutU32(uint16_t type, uint32_t v) { PutAttr(type, &v, 4); }
  void PutString(uint16_t type, const std::string& s);  // with trailing NUL
  /** Opens a nest; returns its offset for EndNest. */
  size_t BeginNest(uint16_t type);
  void EndNest(size_t offset);
  /** Finalises nlmsg_len and the sequence number; returns the bytes to send. */
  const std::vector<uint8_t>& Finish(uint32_t seq);
  size_t size() const { return buf_.size(); }

 private:
  void Align();
  std::vector<uint8_t> buf_;
};

// ---------- parser ----------

/** A view of one attribute: type without NLA_F_NESTED/NET_BYTEORDER, payload bounded by its length. */
struct Attr {
  uint16_t type = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;

  bool U8(uint8_t* out) const;
  bool U16(uint16_t* out) const;
  bool U32(uint32_t* out) const;
  bool S32(int32_t* out) const;
  /** String up to the first NUL or the payload end. */
  std::string Str() const;
};

/**
 * Walks the attributes in [data, data+len). Every header and length is checked against the bounds;
 * a truncated or malformed attribute ends the walk and makes the function return false.
 */
bool ForEachAttr(const uint8_t* data, size_t len, const std::function<void(const Attr&)>& fn);

/** Index of attributes by type (last one wins), for types below `max`. */
struct AttrTable {
  explicit AttrTable(size_t max) : attrs(max) {}
  bool Parse(const uint8_t* data, size_t len);
  const Attr* Get(uint16_t type) const;
  std::vector<std::optional<Attr>> attrs;
};

/** A netlink message header view plus payload bounds. */
struct NlMsgView {
  uint32_t len = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t pid = 0;
  const uint8_t* payload = nullptr;
  size_t payload_len = 0;
};

/**
 * Splits a datagram into messages. Returns false if a header is truncated or claims a length outside
 * the buffer (the messages before it were still delivered).
 */
bool ForEachMessage(const uint8_t* data, size_t len, const std::function<bool(const NlMsgView&)>& fn);

/** NLMSG_ERROR payload: errno (positive, 0 = ACK) and ext-ack message text when present. */
struct NlError {
  int error = 0;
  std::string message;
  uint32_t offset = 0;
};
bool DecodeError(const NlMsgView& msg, NlError* out);

// ---------- decoded records ----------

struct VfRecord {
  uint32_t vf = 0;
  std::string mac;
  uint32_t vlan = 0;
  uint32_t qos = 0;
  uint16_t vlan_proto = 0x8100;
  int32_t spoofchk = -1;  // -1 = not reported by the driver
  int32_t trust = -1;
  uint32_t link_state = 0;
  uint32_t min_tx_rate = 0;
  uint32_t max_tx_rate = 0;
};

struct LinkRecord {
  int32_t index = 0;
  uint32_t flags = 0;
  uint16_t type = 0;
  std::string name;
  uint8_t oper_state = 0;
  uint32_t mtu = 0;
  std::optional<std::string> mac;
  std::optional<std::string> kind;
  /** IFLA_IPVLAN_MODE of an ipvlan link (0 l2, 1 l3, 2 l3s). */
  std::optional<uint16_t> ipvlan_mode;
  std::optional<std::string> alias;
  std::optional<uint32_t> parent_index;
  std::optional<uint32_t> master_index;
  std::optional<std::string> parent_dev_name;
  std::optional<int32_t> link_netnsid;
  uint32_t num_vfs = 0;
  std::vector<VfRecord> vfs;
};

struct AddrRecord {
  uint32_t index = 0;
  uint8_t family = 0;
  uint8_t prefix_len = 0;
  uint8_t scope = 0;
  std::string address;
};

struct RouteRecord {
  uint8_t family = 0;
  uint8_t dst_len = 0;
  uint8_t scope = 0;
  uint8_t protocol = 0;
  uint8_t type = 0;
  uint32_t table = 0;
  std::optional<std::string> dst;
  std::optional<std::string> gw;
  std::optional<uint32_t> oif;
  std::optional<uint32_t> priority;
  std::optional<uint32_t> mtu;
  std::optional<uint32_t> advmss;
};

bool DecodeLink(const NlMsgView& msg, LinkRecord* out);
bool DecodeAddr(const NlMsgView& msg, AddrRecord* out);
bool DecodeRoute(const NlMsgView& msg, RouteRecord* out);

std::string FormatMac(const uint8_t* data, size_t len);
/** "aa:bb:.." → bytes; false on bad syntax. */
bool ParseMac(const std::string& text, std::vector<uint8_t>* out);
std::string FormatIp(uint8_t family, const uint8_t* data, size_t len);

}  // namespace nicplex
