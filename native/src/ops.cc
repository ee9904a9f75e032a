#include "ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <linux/if_ether.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <memory>

#include "netns_thread.h"

namespace nicplex {

namespace {

constexpr uint16_t kAckFlags = NLM_F_REQUEST | NLM_F_ACK;
constexpr uint16_t kCreateFlags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
constexpr uint32_t kLinkExtMask = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS;

/** Closes an fd at scope end. */
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
};

ifinfomsg IfInfo(int32_t index) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  return ifi;
}

void PutLinkName(NlBuilder& b, const std::string& name) {
  // Names longer than IFNAMSIZ-1 can only be alternative names.
  b.PutString(name.size() < IFNAMSIZ ? IFLA_IFNAME : IFLA_ALT_IFNAME, name);
}

/** RTM_GETLINK for one link by index or name; the reply (RTM_NEWLINK) is decoded into `out`. */
Status GetLink(NlSocket& sock, const LinkRef& ref, LinkRecord* out) {
  if (ref.empty()) return Status::Err(EINVAL, "link name or index missing");
  NlBuilder b(RTM_GETLINK, NLM_F_REQUEST);
  ifinfomsg ifi = IfInfo(ref.index > 0 ? ref.index : 0);
  b.PutFixed(&ifi, sizeof ifi);
  if (ref.index <= 0) PutLinkName(b, ref.name);
  b.PutU32(IFLA_EXT_MASK, kLinkExtMask);
  bool found = false;
  Status st = sock.Get(b, [&](const NlMsgView& m) { found = DecodeLink(m, out); });
  if (!st.ok()) return st;
  if (!found) return Status::Err(ENODEV, "no such link " + ref.Describe());
  return Status::Ok();
}

Status ResolveIndex(NlSocket& sock, const LinkRef& ref, int32_t* index) {
  if (ref.index > 0) {
    *index = ref.index;
    return Status::Ok();
  }
  LinkRecord link;
  Status st = GetLink(sock, ref, &link);
  if (!st.ok()) return st;
  *index = link.index;
  return Status::Ok();
}

bool ParseAddress(uint8_t* family, const std::string& text, uint8_t out[16], size_t* len) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) {
    *family = AF_INET;
    *len = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) {
    *family = AF_INET6;
    *len = 16;
    return true;
  }
  return false;
}

Status SetLink(NlSocket& sock, const Op& op) {
  FdGuard target;
  int target_fd = -1;
  if (op.target_netns) {
    Status st = OpenNetnsFd(*op.target_netns, &target.fd);
    if (!st.ok()) return st;
    target_fd = target.fd;
  } else if (op.target_netns_fd) {
    Status st = CheckNetnsFd(*op.target_netns_fd);
    if (!st.ok()) return st;
    target_fd = *op.target_netns_fd;
  }
  int32_t index = op.link.index;
  // IFLA_IFNAME names the link unless we are renaming it; then we need its index first.
  if (index <= 0 && op.new_name) {
    Status st = ResolveIndex(sock, op.link, &index);
    if (!st.ok()) return st;
  }
  int32_t master = -1;
  if (op.master) {
    if (op.master->empty()) {
      master = 0;
    } else {
      Status st = ResolveIndex(sock, *op.master, &master);
      if (!st.ok()) return st;
    }
  }
  NlBuilder b(RTM_SETLINK, kAckFlags);
  ifinfomsg ifi = IfInfo(index > 0 ? index : 0);
  if (op.up) {
    ifi.ifi_flags = *op.up ? IFF_UP : 0;
    ifi.ifi_change = IFF_UP;
  }
  b.PutFixed(&ifi, sizeof ifi);
  if (index <= 0) PutLinkName(b, op.link.name);
  if (op.new_name) b.PutString(IFLA_IFNAME, *op.new_name);
  if (op.mac) b.PutAttr(IFLA_ADDRESS, op.mac->data(), op.mac->size());
  if (op.mtu) b.PutU32(IFLA_MTU, *op.mtu);
  if (op.alias) b.PutAttr(IFLA_IFALIAS, op.alias->data(), op.alias->size());
  if (master >= 0) b.PutU32(IFLA_MASTER, static_cast<uint32_t>(master));
  if (target_fd >= 0) b.PutU32(IFLA_NET_NS_FD, static_cast<uint32_t>(target_fd));
  return sock.Request(b);
}

Status DeleteLink(NlSocket& sock, const Op& op) {
  NlBuilder b(RTM_DELLINK, kAckFlags);
  ifinfomsg ifi = IfInfo(op.link.index > 0 ? op.link.index : 0);
  b.PutFixed(&ifi, sizeof ifi);
  if (op.link.index <= 0) PutLinkName(b, op.link.name);
  return sock.Request(b);
}

Status NewLink(NlSocket& sock, const Op& op) {
  FdGuard target, peer_target;
  if (op.target_netns) {
    Status st = OpenNetnsFd(*op.target_netns, &target.fd);
    if (!st.ok()) return st;
  }
  if (op.peer_netns) {
    Status st = OpenNetnsFd(*op.peer_netns, &peer_target.fd);
    if (!st.ok()) return st;
  }
  int32_t parent = 0;
  if (op.parent) {
    Status st = ResolveIndex(sock, *op.parent, &parent);
    if (!st.ok()) return st;
  }
  NlBuilder b(RTM_NEWLINK, kCreateFlags);
  ifinfomsg ifi = IfInfo(0);
  b.PutFixed(&ifi, sizeof ifi);
  b.PutString(IFLA_IFNAME, op.name);
  if (parent > 0) b.PutU32(IFLA_LINK, static_cast<uint32_t>(parent));
  if (op.mtu) b.PutU32(IFLA_MTU, *op.mtu);
  if (op.mac) b.PutAttr(IFLA_ADDRESS, op.mac->data(), op.mac->size());
  if (target.fd >= 0) b.PutU32(IFLA_NET_NS_FD, static_cast<uint32_t>(target.fd));
  size_t info = b.BeginNest(IFLA_LINKINFO);
  b.PutString(IFLA_INFO_KIND, op.link_kind);
  if (op.link_kind == "veth") {
    size_t data = b.BeginNest(IFLA_INFO_DATA);
    size_t peer = b.BeginNest(VETH_INFO_PEER);
    ifinfomsg peer_ifi = IfInfo(0);
    b.PutFixed(&peer_ifi, sizeof peer_ifi);
    b.PutString(IFLA_IFNAME, op.peer_name);
    if (peer_target.fd >= 0) b.PutU32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_target.fd));
    b.EndNest(peer);
    b.EndNest(data);
  } else if (op.link_kind == "macvlan") {
    size_t data = b.BeginNest(IFLA_INFO_DATA);
    b.PutU32(IFLA_MACVLAN_MODE, op.macvlan_mode.value_or(MACVLAN_MODE_BRIDGE));
    b.EndNest(data);
  } else if (op.link_kind == "ipvlan") {
    size_t data = b.BeginNest(IFLA_INFO_DATA);
    b.PutU16(IFLA_IPVLAN_MODE, static_cast<uint16_t>(op.ipvlan_mode.value_or(0)));
    b.PutU16(IFLA_IPVLAN_FLAGS, static_cast<uint16_t>(op.ipvlan_flags.value_or(0)));
    b.EndNest(data);
  } else if (op.link_kind == "vlan") {
    size_t data = b.BeginNest(IFLA_INFO_DATA);
    b.PutU16(IFLA_VLAN_ID, static_cast<uint16_t>(op.vlan_id.value_or(0)));
    b.PutU16(IFLA_VLAN_PROTOCOL, htons(static_cast<uint16_t>(op.vlan_protocol.value_or(0x8100))));
    b.EndNest(data);
  }
  b.EndNest(info);
  return sock.Request(b);
}

Status SetVf(NlSocket& sock, const Op& op) {
  uint32_t min_rate = 0, max_rate = 0;
  bool set_rate = op.min_tx_rate || op.max_tx_rate;
  if (set_rate && !(op.min_tx_rate && op.max_tx_rate)) {
    // IFLA_VF_RATE sets both; keep the one the caller did not give (what iproute2 does).
    LinkRecord pf;
    Status st = GetLink(sock, op.link, &pf);
    if (!st.ok()) return st;
    for (const VfRecord& vf : pf.vfs) {
      if (vf.vf == op.vf) {
        min_rate = vf.min_tx_rate;
        max_rate = vf.max_tx_rate;
      }
    }
  }
  if (op.min_tx_rate) min_rate = *op.min_tx_rate;
  if (op.max_tx_rate) max_rate = *op.max_tx_rate;

  NlBuilder b(RTM_SETLINK, kAckFlags);
  ifinfomsg ifi = IfInfo(op.link.index > 0 ? op.link.index : 0);
  b.PutFixed(&ifi, sizeof ifi);
  if (op.link.index <= 0) PutLinkName(b, op.link.name);
  size_t list = b.BeginNest(IFLA_VFINFO_LIST);
  size_t info = b.BeginNest(IFLA_VF_INFO);
  if (op.mac) {
    ifla_vf_mac m{};
    m.vf = op.vf;
    std::memcpy(m.mac, op.mac->data(), std::min(op.mac->size(), sizeof m.mac));
    b.PutAttr(IFLA_VF_MAC, &m, sizeof m);
  }
  if (op.vlan) {
    uint16_t proto = static_cast<uint16_t>(op.vlan_protocol.value_or(0x8100));
    if (proto == 0x8100) {
      ifla_vf_vlan v{op.vf, *op.vlan, op.qos.value_or(0)};
      b.PutAttr(IFLA_VF_VLAN, &v, sizeof v);
    } else {
      // Only the VLAN list form carries a protocol (802.1ad).
      size_t vlist = b.BeginNest(IFLA_VF_VLAN_LIST);
      ifla_vf_vlan_info v{};
      v.vf = op.vf;
      v.vlan = *op.vlan;
      v.qos = op.qos.value_or(0);
      v.vlan_proto = htons(proto);
      b.PutAttr(IFLA_VF_VLAN_INFO, &v, sizeof v);
      b.EndNest(vlist);
    }
  }
  if (set_rate) {
    ifla_vf_rate r{op.vf, min_rate, max_rate};
    b.PutAttr(IFLA_VF_RATE, &r, sizeof r);
  }
  if (op.spoofchk) {
    ifla_vf_spoofchk s{op.vf, *op.spoofchk ? 1u : 0u};
    b.PutAttr(IFLA_VF_SPOOFCHK, &s, sizeof s);
  }
  if (op.trust) {
    ifla_vf_trust t{op.vf, *op.trust ? 1u : 0u};
    b.PutAttr(IFLA_VF_TRUST, &t, sizeof t);
  }
  if (op.link_state) {
    ifla_vf_link_state l{op.vf, *op.link_state};
    b.PutAttr(IFLA_VF_LINK_STATE, &l, sizeof l);
  }
  b.EndNest(info);
  b.EndNest(list);
  return sock.Request(b);
}

Status ModifyAddress(NlSocket& sock, const Op& op, bool add) {
  uint8_t bytes[16];
  size_t len = 0;
  uint8_t family = 0;
  if (!ParseAddress(&family, op.address, bytes, &len)) return Status::Err(EINVAL, "not an IP address: " + op.address);
  if (op.prefix_len > len * 8) return Status::Err(EINVAL, "prefix length too long for the address family");
  int32_t index = 0;
  Status st = ResolveIndex(sock, op.link, &index);
  if (!st.ok()) return st;
  NlBuilder b(add ? RTM_NEWADDR : RTM_DELADDR, add ? kCreateFlags : kAckFlags);
  ifaddrmsg ifa{};
  ifa.ifa_family = family;
  ifa.ifa_prefixlen = op.prefix_len;
  ifa.ifa_index = static_cast<uint32_t>(index);
  b.PutFixed(&ifa, sizeof ifa);
  if (family == AF_INET) b.PutAttr(IFA_LOCAL, bytes, len);
  b.PutAttr(IFA_ADDRESS, bytes, len);
  return sock.Request(b);
}

Status ModifyRoute(NlSocket& sock, const Op& op, bool add) {
  uint8_t family = op.family == 6 ? AF_INET6 : AF_INET;
  size_t alen = family == AF_INET6 ? 16 : 4;
  uint8_t dst[16] = {0}, gw[16] = {0};
  uint8_t parsed_family = 0;
  size_t len = 0;
  if (!op.address.empty() && (!ParseAddress(&parsed_family, op.address, dst, &len) || parsed_family != family)) {
    return Status::Err(EINVAL, "route destination is not an address of the route's family: " + op.address);
  }
  if (op.gw && (!ParseAddress(&parsed_family, *op.gw, gw, &len) || parsed_family != family)) {
    return Status::Err(EINVAL, "route gateway is not an address of the route's family: " + *op.gw);
  }
  int32_t oif = 0;
  if (op.dev) {
    Status st = ResolveIndex(sock, *op.dev, &oif);
    if (!st.ok()) return st;
  }
  uint32_t table = op.table.value_or(RT_TABLE_MAIN);
  NlBuilder b(add ? RTM_NEWROUTE : RTM_DELROUTE, add ? kCreateFlags : kAckFlags);
  rtmsg rtm{};
  rtm.rtm_family = family;
  rtm.rtm_dst_len = op.prefix_len;
  rtm.rtm_table = static_cast<uint8_t>(table < 256 ? table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  if (add) {
    rtm.rtm_protocol = RTPROT_BOOT;
    rtm.rtm_type = RTN_UNICAST;
    rtm.rtm_scope = static_cast<uint8_t>(op.scope.value_or(op.gw ? static_cast<uint32_t>(RT_SCOPE_UNIVERSE) : static_cast<uint32_t>(RT_SCOPE_LINK)));
  } else {
    rtm.rtm_scope = static_cast<uint8_t>(op.scope.value_or(RT_SCOPE_NOWHERE));  // matches any scope
  }
  b.PutFixed(&rtm, sizeof rtm);
  b.PutU32(RTA_TABLE, table);
  if (!op.address.empty()) b.PutAttr(RTA_DST, dst, alen);
  if (op.gw) b.PutAttr(RTA_GATEWAY, gw, alen);
  if (oif > 0) b.PutU32(RTA_OIF, static_cast<uint32_t>(oif));
  if (op.priority) b.PutU32(RTA_PRIORITY, *op.priority);
  if (op.mtu || op.advmss) {
    size_t metrics = b.BeginNest(RTA_METRICS);
    if (op.mtu) b.PutU32(RTAX_MTU, *op.mtu);
    if (op.advmss) b.PutU32(RTAX_ADVMSS, *op.advmss);
    b.EndNest(metrics);
  }
  return sock.Request(b);
}

Status DumpAddrs(NlSocket& sock, std::vector<AddrRecord>* out) {
  return sock.Dump(
      [] {
        NlBuilder b(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
        ifaddrmsg ifa{};
        b.PutFixed(&ifa, sizeof ifa);
        return b;
      },
      [out](const NlMsgView& m) {
        AddrRecord a;
        if (DecodeAddr(m, &a)) out->push_back(std::move(a));
      },
      [out] { out->clear(); });
}

Status DumpRoutes(NlSocket& sock, const Op& op, std::vector<RouteRecord>* out) {
  uint8_t family = op.family == 4 ? AF_INET : op.family == 6 ? AF_INET6 : AF_UNSPEC;
  return sock.Dump(
      [family] {
        NlBuilder b(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
        rtmsg rtm{};
        rtm.rtm_family = family;
        b.PutFixed(&rtm, sizeof rtm);
        return b;
      },
      [&op, out](const NlMsgView& m) {
        RouteRecord r;
        if (!DecodeRoute(m, &r)) return;
        if (op.table && r.table != *op.table) return;
        if (r.family != AF_INET && r.family != AF_INET6) return;
        out->push_back(std::move(r));
      },
      [out] { out->clear(); });
}

Status RawDump(NlSocket& sock, const std::string& what, std::vector<uint8_t>* out) {
  uint16_t type = what == "links" ? RTM_GETLINK : what == "addresses" ? RTM_GETADDR : RTM_GETROUTE;
  return sock.Dump(
      [type] {
        NlBuilder b(type, NLM_F_REQUEST | NLM_F_DUMP);
        uint8_t fixed[sizeof(ifinfomsg)] = {0};
        b.PutFixed(fixed, type == RTM_GETLINK ? sizeof(ifinfomsg) : type == RTM_GETADDR ? sizeof(ifaddrmsg) : sizeof(rtmsg));
        if (type == RTM_GETLINK) b.PutU32(IFLA_EXT_MASK, kLinkExtMask);
        return b;
      },
      [out](const NlMsgView& m) {
        const uint8_t* start = m.payload - 16;
        out->insert(out->end(), start, start + m.len);
        out->resize((out->size() + 3) & ~static_cast<size_t>(3), 0);
      },
      [out] { out->clear(); });
}

Status EthtoolDriverInfo(const std::string& ifname, DriverInfo* out) {
  FdGuard sock;
  sock.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) return Status::Err(errno, "socket(AF_INET) for SIOCETHTOOL");
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq req{};
  if (ifname.size() >= IFNAMSIZ) return Status::Err(EINVAL, "interface name too long");
  std::memcpy(req.ifr_name, ifname.data(), ifname.size());
  req.ifr_data = reinterpret_cast<char*>(&info);
  if (ioctl(sock.fd, SIOCETHTOOL, &req) < 0) return Status::Err(errno, "SIOCETHTOOL ETHTOOL_GDRVINFO");
  auto field = [](const char* s, size_t n) { return std::string(s, strnlen(s, n)); };
  out->driver = field(info.driver, sizeof info.driver);
  out->version = field(info.version, sizeof info.version);
  out->firmware_version = field(info.fw_version, sizeof info.fw_version);
  out->bus_info = field(info.bus_info, sizeof info.bus_info);
  return Status::Ok();
}

Status ReadSysctl(const std::string& key, std::string* out) {
  FdGuard f;
  std::string path = "/proc/sys/" + key;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return Status::Err(errno, "cannot open " + path);
  char buf[4096];
  for (;;) {
    ssize_t n = read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Err(errno, "cannot read " + path);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1 << 20)) return Status::Err(EFBIG, path + " is larger than 1 MiB");
  }
  return Status::Ok();
}

Status WriteSysctl(const std::string& key, const std::string& value) {
  FdGuard f;
  std::string path = "/proc/sys/" + key;
  f.fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (f.fd < 0) return Status::Err(errno, "cannot open " + path);
  ssize_t n = write(f.fd, value.data(), value.size());
  if (n < 0) return Status::Err(errno, "cannot write " + path);
  if (static_cast<size_t>(n) != value.size()) return Status::Err(EIO, "short write to " + path);
  return Status::Ok();
}

/** A gratuitous ARP request for `ip` from `mac` on `ifindex`: sender = target = the address, to the broadcast MAC. */
Status SendGratuitousArp(int ifindex, const uint8_t mac[6], const uint8_t ip[4]) {
  FdGuard sock;
  sock.fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (sock.fd < 0) return Status::Err(errno, "socket(AF_PACKET) for the gratuitous ARP");
  uint8_t packet[28] = {};
  const uint16_t hw = htons(ARPHRD_ETHER), proto = htons(ETH_P_IP), op = htons(ARPOP_REQUEST);
  std::memcpy(packet, &hw, 2);
  std::memcpy(packet + 2, &proto, 2);
  packet[4] = 6;
  packet[5] = 4;
  std::memcpy(packet + 6, &op, 2);
  std::memcpy(packet + 8, mac, 6);   // sender hardware address
  std::memcpy(packet + 14, ip, 4);   // sender protocol address
  std::memcpy(packet + 24, ip, 4);   // target protocol address (target hardware address stays zero)
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  if (sendto(sock.fd, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return Status::Err(errno, "sendto (gratuitous ARP)");
  return Status::Ok();
}

/** An unsolicited neighbour advertisement (Override flag, target link-layer option) for `ip` to ff02::1. */
Status SendUnsolicitedNa(int ifindex, const uint8_t mac[6], const uint8_t ip[16]) {
  FdGuard sock;
  sock.fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (sock.fd < 0) return Status::Err(errno, "socket(AF_INET6, SOCK_RAW, ICMPV6) for the neighbour advertisement");
  int hops = 255;
  if (setsockopt(sock.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
      setsockopt(sock.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0 ||
      setsockopt(sock.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) < 0) {
    return Status::Err(errno, "setsockopt for the neighbour advertisement");
  }
  uint8_t packet[32] = {};
  packet[0] = ND_NEIGHBOR_ADVERT;  // type 136, code 0; the kernel fills the checksum of ICMPv6 raw sockets
  const uint32_t flags = htonl(0x20000000);  // Override only: not a router, not solicited
  std::memcpy(packet + 4, &flags, 4);
  std::memcpy(packet + 8, ip, 16);
  packet[24] = ND_OPT_TARGET_LINKADDR;
  packet[25] = 1;  // length in units of 8 bytes
  std::memcpy(packet + 26, mac, 6);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_scope_id = static_cast<uint32_t>(ifindex);
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
  if (sendto(sock.fd, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return Status::Err(errno, "sendto (neighbour advertisement)");
  return Status::Ok();
}

/**
 * sriov-cni's announcement after ADD, in the namespace the step runs in: waits up to 200 ms for the
 * link to be up and running (polls from 2 ms, x1.5), then one gratuitous ARP per IPv4 address and one
 * unsolicited NA per IPv6 address. Nothing is sent for an all-zero or broadcast MAC. Every address is
 * tried; the first failure is returned (callers mark the step best effort, as the reference ignores them).
 */
Status Announce(NlSocket& sock, const Op& op, OpResult* result) {
  LinkRecord link;
  Status st = GetLink(sock, op.link, &link);
  if (!st.ok()) return st;
  auto running = [](const LinkRecord& l) { return (l.flags & IFF_UP) && (l.flags & IFF_RUNNING); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  double delay_ms = 2;
  while (!running(link) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1000)));
    delay_ms *= 1.5;
    st = GetLink(sock, op.link, &link);
    if (!st.ok()) return st;
  }
  std::vector<uint8_t> mac;
  if (!link.mac || !ParseMac(*link.mac, &mac) || mac.size() != 6) return Status::Err(EINVAL, "link " + link.name + " has no Ethernet address to announce");
  bool zero = true, broadcast = true;
  for (uint8_t byte : mac) {
    zero = zero && byte == 0;
    broadcast = broadcast && byte == 0xff;
  }
  result->type = OpResult::Type::kString;
  if (zero || broadcast) {
    result->text = "skipped: MAC " + *link.mac;
    return Status::Ok();
  }
  Status first = Status::Ok();
  int sent = 0;
  for (const std::string& address : op.addresses) {
    uint8_t bytes[16];
    Status one = Status::Ok();
    if (inet_pton(AF_INET, address.c_str(), bytes) == 1) one = SendGratuitousArp(link.index, mac.data(), bytes);
    else if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) one = SendUnsolicitedNa(link.index, mac.data(), bytes);
    else one = Status::Err(EINVAL, "not an IP address: " + address);
    if (one.ok()) sent++;
    else if (first.ok()) first = Status::Err(one.error, one.message + " for " + address);
  }
  result->text = "sent " + std::to_string(sent) + " of " + std::to_string(op.addresses.size());
  return first;
}

Status RunOp(NlSocket& sock, const Op& op, OpResult* result) {
  switch (op.kind) {
    case OpKind::kListLinks:
      result->type = OpResult::Type::kLinks;
      return DumpLinks(sock, &result->links, op.with_vfs);
    case OpKind::kGetLink: {
      result->type = OpResult::Type::kLink;
      result->links.resize(1);
      return GetLink(sock, op.link, &result->links[0]);
    }
    case OpKind::kSetLink:
      return SetLink(sock, op);
    case OpKind::kDeleteLink:
      return DeleteLink(sock, op);
    case OpKind::kNewLink:
      return NewLink(sock, op);
    case OpKind::kSetVf:
      return SetVf(sock, op);
    case OpKind::kAddAddress:
      return ModifyAddress(sock, op, true);
    case OpKind::kDeleteAddress:
      return ModifyAddress(sock, op, false);
    case OpKind::kListAddresses:
      result->type = OpResult::Type::kAddrs;
      return DumpAddrs(sock, &result->addrs);
    case OpKind::kAddRoute:
      return ModifyRoute(sock, op, true);
    case OpKind::kDeleteRoute:
      return ModifyRoute(sock, op, false);
    case OpKind::kListRoutes:
      result->type = OpResult::Type::kRoutes;
      return DumpRoutes(sock, op, &result->routes);
    case OpKind::kEthtoolDriverInfo:
      result->type = OpResult::Type::kDriverInfo;
      return EthtoolDriverInfo(op.key, &result->driver_info);
    case OpKind::kReadSysctl:
      result->type = OpResult::Type::kString;
      return ReadSysctl(op.key, &result->text);
    case OpKind::kWriteSysctl:
      return WriteSysctl(op.key, op.value);
    case OpKind::kRawDump:
      result->type = OpResult::Type::kBytes;
      return RawDump(sock, op.what, &result->bytes);
    case OpKind::kAnnounce:
      return Announce(sock, op, result);
  }
  return Status::Err(EINVAL, "unknown operation");
}

}  // namespace

Status DumpLinks(NlSocket& sock, std::vector<LinkRecord>* out, bool with_vfs) {
  return sock.Dump(
      [with_vfs] {
        NlBuilder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
        ifinfomsg ifi = IfInfo(0);
        b.PutFixed(&ifi, sizeof ifi);
        b.PutU32(IFLA_EXT_MASK, with_vfs ? kLinkExtMask : static_cast<uint32_t>(RTEXT_FILTER_SKIP_STATS));
        return b;
      },
      [out](const NlMsgView& m) {
        LinkRecord link;
        if (DecodeLink(m, &link)) out->push_back(std::move(link));
      },
      [out] { out->clear(); });
}

BatchResult RunBatch(const std::vector<Op>& ops, const std::string& netns) {
  BatchResult batch;
  if (!netns.empty()) {
    batch.status = EnterNetns(netns);
    if (!batch.status.ok()) return batch;
  }
  NlSocket sock;
  batch.status = sock.Open();
  if (!batch.status.ok()) return batch;
  batch.results.resize(ops.size());
  for (size_t i = 0; i < ops.size(); i++) {
    batch.status = RunOp(sock, ops[i], &batch.results[i]);
    if (!batch.status.ok()) {
      batch.failed_index = i;
      batch.results.resize(i);
      return batch;
    }
  }
  return batch;
}

namespace {

/** The namespace a host batch is in, and one socket per namespace visited (a socket stays bound to its ns). */
class NamespaceWalker {
 public:
  ~NamespaceWalker() {
    if (own_fd_ >= 0) close(own_fd_);
  }
  Status Start() {
    own_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own_fd_ < 0) return Status::Err(errno, "cannot open /proc/thread-self/ns/net");
    return Status::Ok();
  }
  /** Enters `netns` ("" = the thread's own) and returns its socket, opening it on first use. */
  Status Enter(const std::string& netns, NlSocket** sock) {
    if (netns != current_) {
      Status st = netns.empty() ? EnterNetnsFd(own_fd_, "the agent's namespace") : EnterNetns(netns);
      if (!st.ok()) return st;
      current_ = netns;
    }
    std::unique_ptr<NlSocket>& slot = sockets_[netns];
    if (!slot) {
      slot = std::make_unique<NlSocket>();
      Status st = slot->Open();
      if (!st.ok()) {
        slot.reset();
        return st;
      }
    }
    *sock = slot.get();
    return Status::Ok();
  }

 private:
  int own_fd_ = -1;
  std::string current_;
  std::map<std::string, std::unique_ptr<NlSocket>> sockets_;
};

Status RunStepIn(NamespaceWalker& walker, const Op& op, OpResult* result) {
  NlSocket* sock = nullptr;
  Status st = walker.Enter(op.step_netns, &sock);
  if (!st.ok()) return st;
  return RunOp(*sock, op, result);
}

}  // namespace

BatchResult RunHostBatch(const std::vector<Op>& steps) {
  BatchResult batch;
  NamespaceWalker walker;
  batch.status = walker.Start();
  if (!batch.status.ok()) return batch;
  batch.results.resize(steps.size());
  for (size_t i = 0; i < steps.size(); i++) {
    Status st = RunStepIn(walker, steps[i], &batch.results[i]);
    if (st.ok()) continue;
    if (steps[i].best_effort) {
      batch.results[i] = OpResult();
      batch.results[i].type = OpResult::Type::kError;
      batch.results[i].error_code = st.error;
      batch.results[i].text = st.message;
      continue;
    }
    batch.status = st;
    batch.failed_index = i;
    batch.results.resize(i);
    for (size_t j = i; j-- > 0;) {
      if (batch.results[j].type == OpResult::Type::kError) continue;  // a skipped step changed nothing
      for (const Op& undo : steps[j].undo) {
        OpResult ignored;
        Status undo_status = RunStepIn(walker, undo, &ignored);
        if (!undo_status.ok()) batch.undo_errors.emplace_back(j, undo_status);
      }
    }
    return batch;
  }
  return batch;
}

}  // namespace nicplex
