#include "nl_wire.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace nicplex {

namespace {

constexpr size_t kAlign = 4;
constexpr size_t AlignUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr size_t kNlHdr = 16;
constexpr size_t kAttrHdr = 4;

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // payloads are not guaranteed to be aligned for T
  return v;
}

}  // namespace

// ---------- builder ----------

NlBuilder::NlBuilder(uint16_t type, uint16_t flags) : buf_(kNlHdr, 0) {
  std::memcpy(buf_.data() + 4, &type, 2);
  std::memcpy(buf_.data() + 6, &flags, 2);
  buf_.reserve(512);
}

void NlBuilder::Align() { buf_.resize(AlignUp(buf_.size()), 0); }

void NlBuilder::PutFixed(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  buf_.insert(buf_.end(), p, p + len);
  Align();
}

void NlBuilder::PutAttr(uint16_t type, const void* data, size_t len) {
  uint16_t alen = static_cast<uint16_t>(kAttrHdr + len);
  size_t at = buf_.size();
  buf_.resize(at + kAttrHdr, 0);
  std::memcpy(buf_.data() + at, &alen, 2);
  std::memcpy(buf_.data() + at + 2, &type, 2);
  if (len > 0) {
    const auto* p = static_cast<const uint8_t*>(data);
    buf_.insert(buf_.end(), p, p + len);
  }
  Align();
}

void NlBuilder::PutString(uint16_t type, const std::string& s) { PutAttr(type, s.c_str(), s.size() + 1); }

size_t NlBuilder::BeginNest(uint16_t type) {
  size_t at = buf_.size();
  PutAttr(type, nullptr, 0);
  return at;
}

void NlBuilder::EndNest(size_t offset) {
  uint16_t len = static_cast<uint16_t>(buf_.size() - offset);
  std::memcpy(buf_.data() + offset, &len, 2);
}

const std::vector<uint8_t>& NlBuilder::Finish(uint32_t seq) {
  uint32_t len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data(), &len, 4);
  std::memcpy(buf_.data() + 8, &seq, 4);
  return buf_;
}

// ---------- parser ----------

bool Attr::U8(uint8_t* out) const {
  if (len < 1) return false;
  *out = data[0];
  return true;
}
bool Attr::U16(uint16_t* out) const {
  if (len < 2) return false;
  *out = Load<uint16_t>(data);
  return true;
}
bool Attr::U32(uint32_t* out) const {
  if (len < 4) return false;
  *out = Load<uint32_t>(data);
  return true;
}
bool Attr::S32(int32_t* out) const {
  if (len < 4) return false;
  *out = Load<int32_t>(data);
  return true;
}
std::string Attr::Str() const {
  const void* nul = std::memchr(data, 0, len);
  size_t n = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - data) : len;
  return std::string(reinterpret_cast<const char*>(data), n);
}

bool ForEachAttr(const uint8_t* data, size_t len, const std::function<void(const Attr&)>& fn) {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < kAttrHdr) return false;
    uint16_t alen = Load<uint16_t>(data + pos);
    uint16_t type = Load<uint16_t>(data + pos + 2);
    if (alen < kAttrHdr || alen > len - pos) return false;
    Attr a;
    a.type = static_cast<uint16_t>(type & NLA_TYPE_MASK);
    a.data = data + pos + kAttrHdr;
    a.len = alen - kAttrHdr;
    fn(a);
    size_t step = AlignUp(alen);
    if (step >= len - pos) break;  // last attribute (padding may be omitted at the end)
    pos += step;
  }
  return true;
}

bool AttrTable::Parse(const uint8_t* data, size_t len) {
  return ForEachAttr(data, len, [this](const Attr& a) {
    if (a.type < attrs.size()) attrs[a.type] = a;
  });
}

const Attr* AttrTable::Get(uint16_t type) const {
  if (type >= attrs.size() || !attrs[type]) return nullptr;
  return &*attrs[type];
}

bool ForEachMessage(const uint8_t* data, size_t len, const std::function<bool(const NlMsgView&)>& fn) {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < kNlHdr) return false;
    NlMsgView m;
    m.len = Load<uint32_t>(data + pos);
    m.type = Load<uint16_t>(data + pos + 4);
    m.flags = Load<uint16_t>(data + pos + 6);
    m.seq = Load<uint32_t>(data + pos + 8);
    m.pid = Load<uint32_t>(data + pos + 12);
    if (m.len < kNlHdr || m.len > len - pos) return false;
    m.payload = data + pos + kNlHdr;
    m.payload_len = m.len - kNlHdr;
    if (!fn(m)) return true;
    size_t step = AlignUp(m.len);
    if (step >= len - pos) break;
    pos += step;
  }
  return true;
}

bool DecodeError(const NlMsgView& msg, NlError* out) {
  // struct nlmsgerr { int error; struct nlmsghdr msg; } then the echoed request (unless capped), then TLVs.
  constexpr size_t kErrHdr = 4 + kNlHdr;
  if (msg.type != NLMSG_ERROR || msg.payload_len < kErrHdr) return false;
  int32_t err = Load<int32_t>(msg.payload);
  // The kernel sends 0 or -errno (1..4095); anything else is a malformed message, not a valid errno.
  out->error = err == 0 ? 0 : (err < 0 && err >= -4095) ? -err : EPROTO;
  out->message.clear();
  if (!(msg.flags & NLM_F_ACK_TLVS)) return true;
  size_t tlv_at = kErrHdr;
  if (!(msg.flags & NLM_F_CAPPED)) {
    uint32_t echoed_len = Load<uint32_t>(msg.payload + 4);
    if (echoed_len < kNlHdr || echoed_len > msg.payload_len - 4) return true;
    tlv_at = AlignUp(4 + static_cast<size_t>(echoed_len));
  }
  if (tlv_at >= msg.payload_len) return true;
  ForEachAttr(msg.payload + tlv_at, msg.payload_len - tlv_at, [out](const Attr& a) {
    if (a.type == NLMSGERR_ATTR_MSG) out->message = a.Str();
    if (a.type == NLMSGERR_ATTR_OFFS) a.U32(&out->offset);
  });
  return true;
}

// ---------- formatting ----------

std::string FormatMac(const uint8_t* data, size_t len) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(len * 3);
  for (size_t i = 0; i < len; i++) {
    if (i) s.push_back(':');
    s.push_back(kHex[data[i] >> 4]);
    s.push_back(kHex[data[i] & 0xf]);
  }
  return s;
}

bool ParseMac(const std::string& text, std::vector<uint8_t>* out) {
  out->clear();
  size_t i = 0;
  while (i < text.size()) {
    if (i + 2 > text.size()) return false;
    unsigned v = 0;
    for (size_t k = 0; k < 2; k++) {
      char c = text[i + k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    out->push_back(static_cast<uint8_t>(v));
    i += 2;
    if (i < text.size()) {
      if (text[i] != ':') return false;
      i++;
      if (i == text.size()) return false;
    }
  }
  return !out->empty() && out->size() <= 32;
}

std::string FormatIp(uint8_t family, const uint8_t* data, size_t len) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family == AF_INET && len >= 4) {
    inet_ntop(AF_INET, data, buf, sizeof buf);
  } else if (family == AF_INET6 && len >= 16) {
    inet_ntop(AF_INET6, data, buf, sizeof buf);
  }
  return buf;
}

// ---------- decoders ----------

namespace {

void DecodeVf(const uint8_t* data, size_t len, VfRecord* vf) {
  ForEachAttr(data, len, [vf](const Attr& a) {
    switch (a.type) {
      case IFLA_VF_MAC:  // { u32 vf; u8 mac[32]; }
        if (a.len >= 36) {
          vf->vf = Load<uint32_t>(a.data);
          vf->mac = FormatMac(a.data + 4, 6);
        }
        break;
      case IFLA_VF_VLAN:  // { vf; vlan; qos; }
        if (a.len >= 12) {
          vf->vlan = Load<uint32_t>(a.data + 4);
          vf->qos = Load<uint32_t>(a.data + 8);
        }
        break;
      case IFLA_VF_VLAN_LIST:
        ForEachAttr(a.data, a.len, [vf](const Attr& info) {
          if (info.type == IFLA_VF_VLAN_INFO && info.len >= 14) {  // { vf; vlan; qos; be16 proto; }
            vf->vlan = Load<uint32_t>(info.data + 4);
            vf->qos = Load<uint32_t>(info.data + 8);
            vf->vlan_proto = ntohs(Load<uint16_t>(info.data + 12));
          }
        });
        break;
      case IFLA_VF_TX_RATE:
        if (a.len >= 8 && vf->max_tx_rate == 0) vf->max_tx_rate = Load<uint32_t>(a.data + 4);
        break;
      case IFLA_VF_RATE:
        if (a.len >= 12) {
          vf->min_tx_rate = Load<uint32_t>(a.data + 4);
          vf->max_tx_rate = Load<uint32_t>(a.data + 8);
        }
        break;
      case IFLA_VF_SPOOFCHK:
        if (a.len >= 8) vf->spoofchk = Load<int32_t>(a.data + 4) < 0 ? -1 : (Load<uint32_t>(a.data + 4) ? 1 : 0);
        break;
      case IFLA_VF_TRUST:
        if (a.len >= 8) vf->trust = Load<int32_t>(a.data + 4) < 0 ? -1 : (Load<uint32_t>(a.data + 4) ? 1 : 0);
        break;
      case IFLA_VF_LINK_STATE:
        if (a.len >= 8) vf->link_state = Load<uint32_t>(a.data + 4);
        break;
      default:
        break;
    }
  });
}

}  // namespace

bool DecodeLink(const NlMsgView& msg, LinkRecord* out) {
  if ((msg.type != RTM_NEWLINK && msg.type != RTM_DELLINK) || msg.payload_len < sizeof(ifinfomsg)) return false;
  ifinfomsg ifi;
  std::memcpy(&ifi, msg.payload, sizeof ifi);
  *out = LinkRecord();
  out->index = ifi.ifi_index;
  out->flags = ifi.ifi_flags;
  out->type = ifi.ifi_type;
  AttrTable t(__IFLA_MAX < 128 ? 128 : __IFLA_MAX);
  size_t off = NLMSG_ALIGN(sizeof(ifinfomsg));
  if (off > msg.payload_len) return false;
  bool ok = t.Parse(msg.payload + off, msg.payload_len - off);
  if (const Attr* a = t.Get(IFLA_IFNAME)) out->name = a->Str();
  if (const Attr* a = t.Get(IFLA_MTU)) a->U32(&out->mtu);
  if (const Attr* a = t.Get(IFLA_OPERSTATE)) a->U8(&out->oper_state);
  if (const Attr* a = t.Get(IFLA_ADDRESS); a && a->len > 0 && a->len <= 32) out->mac = FormatMac(a->data, a->len);
  if (const Attr* a = t.Get(IFLA_IFALIAS); a && a->len > 0) out->alias = a->Str();
  uint32_t u = 0;
  if (const Attr* a = t.Get(IFLA_LINK); a && a->U32(&u)) out->parent_index = u;
  if (const Attr* a = t.Get(IFLA_MASTER); a && a->U32(&u)) out->master_index = u;
  if (const Attr* a = t.Get(IFLA_NUM_VF)) a->U32(&out->num_vfs);
  if (const Attr* a = t.Get(IFLA_PARENT_DEV_NAME); a && a->len > 0) out->parent_dev_name = a->Str();
  int32_t s = 0;
  if (const Attr* a = t.Get(IFLA_LINK_NETNSID); a && a->S32(&s)) out->link_netnsid = s;
  if (const Attr* a = t.Get(IFLA_LINKINFO)) {
    std::optional<Attr> data;
    ForEachAttr(a->data, a->len, [out, &data](const Attr& info) {
      if (info.type == IFLA_INFO_KIND) out->kind = info.Str();
      if (info.type == IFLA_INFO_DATA) data = info;
    });
    if (data && out->kind == "ipvlan") {
      ForEachAttr(data->data, data->len, [out](const Attr& attr) {
        uint16_t mode = 0;
        if (attr.type == IFLA_IPVLAN_MODE && attr.U16(&mode)) out->ipvlan_mode = mode;
      });
    }
  }
  if (const Attr* a = t.Get(IFLA_VFINFO_LIST)) {
    ForEachAttr(a->data, a->len, [out](const Attr& entry) {
      if (entry.type != IFLA_VF_INFO) return;
      VfRecord vf;
      DecodeVf(entry.data, entry.len, &vf);
      out->vfs.push_back(std::move(vf));
    });
  }
  return ok;
}

bool DecodeAddr(const NlMsgView& msg, AddrRecord* out) {
  if ((msg.type != RTM_NEWADDR && msg.type != RTM_DELADDR) || msg.payload_len < sizeof(ifaddrmsg)) return false;
  ifaddrmsg ifa;
  std::memcpy(&ifa, msg.payload, sizeof ifa);
  *out = AddrRecord();
  out->index = ifa.ifa_index;
  out->family = ifa.ifa_family;
  out->prefix_len = ifa.ifa_prefixlen;
  out->scope = ifa.ifa_scope;
  AttrTable t(IFA_MAX + 1);
  size_t off = NLMSG_ALIGN(sizeof(ifaddrmsg));
  if (off > msg.payload_len) return false;
  bool ok = t.Parse(msg.payload + off, msg.payload_len - off);
  // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
  const Attr* a = t.Get(IFA_LOCAL) ? t.Get(IFA_LOCAL) : t.Get(IFA_ADDRESS);
  if (a) out->address = FormatIp(out->family, a->data, a->len);
  return ok && !out->address.empty();
}

bool DecodeRoute(const NlMsgView& msg, RouteRecord* out) {
  if ((msg.type != RTM_NEWROUTE && msg.type != RTM_DELROUTE) || msg.payload_len < sizeof(rtmsg)) return false;
  rtmsg rtm;
  std::memcpy(&rtm, msg.payload, sizeof rtm);
  *out = RouteRecord();
  out->family = rtm.rtm_family;
  out->dst_len = rtm.rtm_dst_len;
  out->scope = rtm.rtm_scope;
  out->protocol = rtm.rtm_protocol;
  out->type = rtm.rtm_type;
  out->table = rtm.rtm_table;
  AttrTable t(RTA_MAX + 1);
  size_t off = NLMSG_ALIGN(sizeof(rtmsg));
  if (off > msg.payload_len) return false;
  bool ok = t.Parse(msg.payload + off, msg.payload_len - off);
  uint32_t u = 0;
  if (const Attr* a = t.Get(RTA_TABLE); a && a->U32(&u)) out->table = u;
  if (const Attr* a = t.Get(RTA_DST)) out->dst = FormatIp(out->family, a->data, a->len);
  if (const Attr* a = t.Get(RTA_GATEWAY)) out->gw = FormatIp(out->family, a->data, a->len);
  if (const Attr* a = t.Get(RTA_OIF); a && a->U32(&u)) out->oif = u;
  if (const Attr* a = t.Get(RTA_PRIORITY); a && a->U32(&u)) out->priority = u;
  if (const Attr* a = t.Get(RTA_METRICS)) {
    ForEachAttr(a->data, a->len, [out](const Attr& m) {
      uint32_t v = 0;
      if (m.type == RTAX_MTU && m.U32(&v)) out->mtu = v;
      if (m.type == RTAX_ADVMSS && m.U32(&v)) out->advmss = v;
    });
  }
  return ok;
}

}  // namespace nicplex
