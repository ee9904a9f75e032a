// libFuzzer target over the rtnetlink parser: message splitting, attribute walking and the link,
// address, route and error decoders must never read out of bounds, whatever the kernel (or an
// attacker with a netlink socket) sends. Built with -fsanitize=fuzzer,address,undefined.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nl_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nicplex;
  size_t decoded = 0;
  ForEachMessage(data, size, [&](const NlMsgView& m) {
    LinkRecord link;
    AddrRecord addr;
    RouteRecord route;
    NlError err;
    // Decode each message as every kind, whatever its type says: the decoders check the type, and
    // the fixed-header/attribute walk is what must be robust.
    NlMsgView as_link = m, as_addr = m, as_route = m, as_error = m;
    as_link.type = 16;   // RTM_NEWLINK
    as_addr.type = 20;   // RTM_NEWADDR
    as_route.type = 24;  // RTM_NEWROUTE
    as_error.type = 2;   // NLMSG_ERROR
    if (DecodeLink(as_link, &link)) decoded += link.vfs.size() + link.name.size();
    if (DecodeAddr(as_addr, &addr)) decoded += addr.address.size();
    if (DecodeRoute(as_route, &route)) decoded += route.dst ? route.dst->size() : 0;
    if (DecodeError(as_error, &err)) decoded += err.message.size();
    return true;
  });
  // The attribute walker on its own, as for a nest payload.
  ForEachAttr(data, size, [&](const Attr& a) {
    uint32_t v = 0;
    if (a.U32(&v)) decoded += v & 1;
    decoded += a.Str().size();
  });
  std::vector<uint8_t> mac;
  ParseMac(std::string(reinterpret_cast<const char*>(data), size < 128 ? size : 128), &mac);
  return decoded == static_cast<size_t>(-1) ? 1 : 0;
}
