// Plain fd-level helpers for a Linux TUN device: open/attach, name, MTU, ifindex, liveness.
// No N-API here, so this file states the kernel contract in one place. Every function returns a
// non-negative result on success and -errno on failure (never throws, never sets global state).
#ifndef WGTS_TUN_FD_H
#define WGTS_TUN_FD_H

#include <net/if.h>

namespace wgts {

// Largest packet a TUN (IFF_NO_PI, no vnet header) can hand over: the kernel caps a TUN's MTU
// at 65535, so a read buffer this big never truncates.
constexpr int kMaxPacket = 65535;

// What an open TUN fd does beyond plain packets.
struct TunOffloads {
  bool vnet_hdr = false;  // IFF_VNET_HDR: every read and write carries a 10-byte virtio_net_hdr
  bool tso = false;       // TUNSETOFFLOAD took TUN_F_CSUM|TSO4|TSO6: reads may be TCP super-packets
  bool uso = false;       // ... and TUN_F_USO4|USO6 (Linux >= 6.2): UDP super-packets too
};

// Opens /dev/net/tun (non-blocking, close-on-exec) and binds it to the layer-3 device `name`
// with IFF_TUN|IFF_NO_PI: creates the device if absent, attaches if a persistent one exists.
// `name` may hold a "%d" pattern. Writes the kernel's final name into out_name.
// With `offload`, asks for IFF_VNET_HDR and the TSO (and, where the kernel has them, USO)
// offloads; a kernel or device that refuses them gets a plain fd instead (see `got`).
// Returns the fd or -errno (e.g. -EBUSY when another fd already owns the device).
int TunOpen(const char* name, bool offload, char out_name[IFNAMSIZ], TunOffloads* got);

// Current device name of an open TUN fd (TUNGETIFF), following renames and netns moves.
// Fails with -EBADFD once the device was deleted: this is the liveness probe.
int TunName(int fd, char out_name[IFNAMSIZ]);

// MTU / ifindex of the device `name` as seen from the caller's network namespace
// (-ENODEV when it lives in another namespace).
int IfGetMtu(const char* name);
int IfSetMtu(const char* name, int mtu);
int IfIndex(const char* name);

}  // namespace wgts

#endif
