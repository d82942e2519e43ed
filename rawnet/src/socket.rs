//! [`RawSocket`]: an AF_PACKET socket bound to one interface, receiving
//! through a TPACKET_V2 or TPACKET_V3 ring and sending with `sendmmsg`.
//!
//! This module opens the socket and holds its types; the receive side (the
//! ring walk) is in `rx`, the transmit side (queue, GSO, `flush`) in `tx`.

use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::sys::{self, Ring, RingLayout};
use crate::{bpf, Error, Interface};

mod grow;
mod rx;
mod tx;

pub use tx::TxFrame;
use tx::TX_CHUNK;

/// `ETH_P_ALL`.
const ETH_P_ALL: u16 = 0x0003;
/// `PACKET_FANOUT_CBPF` (Linux 4.2): a classic BPF program of ours picks
/// the socket.
const PACKET_FANOUT_CBPF: u32 = 6;
/// `PACKET_FANOUT_FLAG_IGNORE_OUTGOING` (Linux 6.2).
const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u32 = 0x4000;
/// `PACKET_FANOUT_FLAG_DEFRAG`.
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
/// `tp_frame_size` given to the kernel for TPACKET_V3, which packs frames of
/// any size into a block: this only has to divide the block size. Also the
/// smallest TPACKET_V2 slot.
const FRAME_SIZE: usize = 2048;
/// Where the kernel puts an Ethernet frame in a TPACKET_V2 slot:
/// `TPACKET_ALIGN(TPACKET_ALIGN(sizeof(tpacket2_hdr)) + sizeof(sockaddr_ll)
/// + 16) - 14` = `TPACKET_ALIGN(52 + 16) - 14` = 66.
const V2_MAC_OFF: usize = 66;
/// Largest TPACKET_V2 slot chosen from the MTU (enough for 9000-byte jumbo
/// frames); frames that do not fit take the copy path.
const V2_MAX_FRAME_SIZE: usize = 16 << 10;
/// Size of the buffer that frames too large for a TPACKET_V2 slot are read
/// into: the largest GRO/GSO frame (an IPv4 packet of 64 KiB, plus Ethernet
/// and a VLAN tag), rounded up.
const COPY_BUF_LEN: usize = 68 << 10;

/// What the kernel knows about a received frame's transport checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsumStatus {
    /// Nothing known: verify it yourself.
    Unknown,
    /// The kernel (or the NIC) verified it (`TP_STATUS_CSUM_VALID`).
    Valid,
    /// A partial checksum not yet filled in (`TP_STATUS_CSUMNOTREADY`): the
    /// frame came from this host over veth or loopback with checksum offload.
    /// Do not treat it as bad.
    NotReady,
}

/// Metadata of one received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// Checksum status.
    pub csum: CsumStatus,
    /// Original length on the wire; larger than the slice if the frame was
    /// truncated (which [`Stats::truncated`] counts).
    pub len: usize,
    /// When the kernel received it.
    pub timestamp: SystemTime,
}

/// Which kind of memory-mapped receive ring a [`RawSocket`] uses.
///
/// | | [`V2`](Self::V2) (default) | [`V3`](Self::V3) |
/// |---|---|---|
/// | frame visible to `recv_batch` | as soon as the kernel wrote it | when its block is full, or after `block_timeout_ms` (≥ 1 ms) |
/// | added latency at light load | none (µs) | up to `block_timeout_ms` per frame |
/// | ring capacity, in frames | `ring_bytes / slot` (8192 for 16 MiB, 2 KiB slots): the same for a 60-byte ACK as a full frame | frames packed by size: about 10× more small frames |
/// | frames larger than a slot (GRO/GSO, up to 64 KiB) | read whole with one extra `recvmsg` each (copied once) | zero-copy in the block |
/// | per-frame cost | a status read and write per frame, and a wakeup per frame of a reader asleep in `ppoll` | per block |
///
/// Measured between two namespaces over veth (tests `latency` and
/// `burst`): a single frame reaches `recv_batch` in ~10 µs with V2 and
/// ~0.9 ms with V3 (median); a flood of 100,000 small frames is received
/// without loss by both, V2 at roughly two thirds of V3's rate (the per-frame
/// wakeups of a reader that keeps up).
///
/// V2 is the right choice for a TCP server: a handshake or a request/reply
/// exchange never waits for a block timeout (V3 caps a sequential client at
/// a few hundred connections per second and adds ~1 ms to every round
/// trip). V3 suits pure capture of heavy traffic, where blocks fill quickly
/// and its denser packing absorbs longer reader stalls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RingVersion {
    /// `TPACKET_V2`: one fixed-size slot per frame, each handed over on its
    /// own. The slot size follows the interface MTU (2 KiB up to MTU 1500,
    /// at most 16 KiB); larger frames (GRO/GSO super-frames) are still
    /// received whole, through the socket's receive queue
    /// (`TP_STATUS_COPY`, see [`Stats::copied`]).
    #[default]
    V2,
    /// `TPACKET_V3`: variable-size frames packed into blocks, each handed
    /// over when full or when `block_timeout_ms` expires.
    V3,
}

/// Which frames the kernel lets through to the ring (a classic BPF filter);
/// everything else is dropped in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// IPv4 TCP frames to this destination address ...
    pub ipv4: Ipv4Addr,
    /// ... and this destination port pass (IPv4 fragments do not).
    pub tcp_port: u16,
    /// TCP to every port of `ipv4` passes, not only `tcp_port`: for
    /// own-address mode, where the address has no other TCP and the server
    /// answers its closed ports with a reset (RFC 9293 §3.10.7.1). Leave it
    /// off when the kernel owns the address too: it answers its other ports.
    pub all_ports: bool,
    /// ARP frames pass too.
    pub arp: bool,
    /// IPv6 to this address passes too: TCP to `tcp_port` (or every port
    /// with `all_ports`), ICMPv6 to it and to its solicited-node multicast
    /// group (neighbor discovery). An unspecified `ipv4` (0.0.0.0) with
    /// this set lets no IPv4 through: an IPv6-only server.
    pub ipv6: Option<Ipv6Addr>,
}

/// How to open a [`RawSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    /// Kernel-side filter; `None` receives every frame on the interface.
    pub filter: Option<Filter>,
    /// Receive ring kind (default [`RingVersion::V2`]; see there for the
    /// trade-offs).
    pub ring: RingVersion,
    /// Total size of the receive ring in bytes (default 16 MiB); rounded
    /// down to a whole number of blocks, at least one. With
    /// [`RingVersion::V2`] this is `ring_bytes / 2048` frame slots (8192 by
    /// default, at MTU 1500) whatever the frame sizes; it also sets the
    /// socket's receive buffer, which holds frames too large for a slot
    /// until they are read.
    pub ring_bytes: usize,
    /// [`RingVersion::V2`] without `fanout` only: start with a ring of
    /// this size and grow it to `ring_bytes`, once, the first time a pass
    /// over it finds it at least three quarters full (0, the default, or
    /// not below `ring_bytes`: the ring is `ring_bytes` from the start).
    /// The kernel maps every page of a ring at `mmap` time, so its size is
    /// resident memory from the start: a small ring that grows under load
    /// keeps an idle process small. Growing is lossless: the larger ring is made on
    /// a helper thread while this one is still read, then a second socket
    /// with it is bound, the first one is shut by a filter that drops
    /// everything and drained, and the frames both received are handed out
    /// once (see `socket/grow.rs`; [`Stats::ring_grown`]). Until the larger
    /// ring is ready (it takes milliseconds) only the smaller one holds
    /// frames.
    pub ring_start_bytes: usize,
    /// Size of one ring block (default 256 KiB): a multiple of the page
    /// size. With [`RingVersion::V3`] it must be larger than the largest
    /// frame (GRO/TSO frames reach 64 KiB). The kernel hands a V3 block over
    /// when it is full or `block_timeout_ms` has passed, so under light load
    /// each block holds only a few frames: a reader that stalls for longer
    /// than `ring_bytes / block_size` timeouts loses frames even with the
    /// ring nearly empty. Many smaller blocks tolerate stalls better than a
    /// few large ones. With [`RingVersion::V2`] a block is only the unit the
    /// kernel allocates slots in.
    pub block_size: usize,
    /// [`RingVersion::V3`] only: how long the kernel fills a block before
    /// handing it over even if not full (default 1 ms): the added latency
    /// under light load.
    pub block_timeout_ms: u32,
    /// Join this `PACKET_FANOUT` group: sockets in one group on one
    /// interface share its frames. A program of ours picks the socket
    /// (`PACKET_FANOUT_CBPF`, Linux 4.2) from the remote address and port
    /// of a TCP segment, or of the segment of ours that an ICMP or ICMPv6
    /// error quotes: a connection's segments and the errors about it
    /// always reach the same socket. Frames that are no connection's
    /// (ARP, NDP, echo requests) go to the first socket of the group.
    /// IPv4 fragments are reassembled before the choice
    /// (`PACKET_FANOUT_FLAG_DEFRAG`).
    pub fanout: Option<u16>,
    /// Do not receive the frames this host sends (`PACKET_IGNORE_OUTGOING`);
    /// default true.
    pub ignore_outgoing: bool,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            filter: None,
            ring: RingVersion::V2,
            ring_bytes: 16 << 20,
            ring_start_bytes: 0,
            block_size: 256 << 10,
            block_timeout_ms: 1,
            fanout: None,
            ignore_outgoing: true,
        }
    }
}

/// Counters of a [`RawSocket`], cumulative since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames that reached the socket, including `drops` (kernel count).
    pub packets: u64,
    /// Frames the kernel dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was full (kernel `tp_freeze_q_cnt`; TPACKET_V3 only).
    pub freeze_q_cnt: u64,
    /// Frames handed to `recv_batch` callbacks.
    pub rx_frames: u64,
    /// Of those, frames cut short (snap length below wire length). With
    /// [`RingVersion::V2`] a frame larger than a slot is cut to the slot if
    /// the socket's receive buffer had no room for the whole copy.
    pub truncated: u64,
    /// Of those, frames larger than a [`RingVersion::V2`] slot that were read
    /// whole from the socket's receive queue (`TP_STATUS_COPY`).
    pub copied: u64,
    /// Frames the kernel accepted for sending.
    pub tx_frames: u64,
    /// Frames `flush` gave up on (queue full for too long, or refused).
    pub tx_dropped: u64,
    /// Of those, frames the kernel refused one by one (`EMSGSIZE` for a
    /// frame larger than the interface MTU, `EINVAL`, ...): each was
    /// skipped and the frames after it sent.
    pub tx_refused: u64,
    /// Times `flush` waited for a full transmit queue.
    pub tx_retries: u64,
    /// Times the receive ring grew (see [`SocketConfig::ring_start_bytes`]).
    pub ring_grown: u64,
    /// Frames that, while the ring grew, reached both the old and the new
    /// ring and were handed out once (from the old one).
    pub ring_dups_skipped: u64,
}

/// An AF_PACKET raw socket on one interface.
///
/// Receive: [`recv_batch`](Self::recv_batch) hands out frames straight from
/// the memory-mapped ring (frames larger than a [`RingVersion::V2`] slot
/// from a buffer of the socket, read with `recvmsg`). Send: [`queue`](Self::queue) frames, then
/// [`flush`](Self::flush) them with one system call per 512.
pub struct RawSocket {
    // Field order matters: the ring is unmapped before the socket is closed.
    ring: Ring,
    fd: OwnedFd,
    ifindex: u32,
    ifname: String,
    version: RingVersion,
    /// Next unit of the ring to look at (a V3 block, a V2 slot).
    next: usize,
    /// Where frames too large for a V2 slot are read to (empty with V3).
    copy_buf: Vec<u8>,
    tx_buf: Vec<u8>,
    tx_ends: Vec<usize>,
    /// Per queued frame: its `virtio_net_hdr` (sent only with GSO on).
    tx_vnet: Vec<[u8; 10]>,
    stats: Cell<Stats>,
    /// How long `recv_batch` watches the ring before it sleeps in `ppoll`.
    spin: Duration,
    /// After the spin: naps of this length (zero: none) ...
    nap: Duration,
    /// ... for up to this long in all, before `poll`.
    nap_for: Duration,
    /// The calling thread's timer slack was set for naps.
    slack_set: bool,
    /// Most frames one `recv_batch` hands over (0: a whole pass).
    batch_max: usize,
    /// With GSO on: the socket frames are sent through, opened with
    /// `PACKET_VNET_HDR` (every queued frame then starts with a
    /// `virtio_net_hdr`).
    gso_fd: Option<OwnedFd>,
    /// The last frame the kernel refused (see `take_refused`).
    refused: Option<Error>,
    /// The interface and settings the socket was opened with (a grown ring
    /// is opened with them).
    iface: Interface,
    cfg: SocketConfig,
    /// The size the ring grows to under load (`SocketConfig::ring_bytes`);
    /// 0 once it has grown (or if it never will).
    grow_to: usize,
    /// The larger ring, while a helper thread makes it.
    growing: Option<grow::Pending>,
}

impl RawSocket {
    /// Opens a socket on `iface` configured by `cfg`.
    ///
    /// The socket is created with protocol 0, so it receives nothing until
    /// the filter and ring are in place and it is bound: no frame that the
    /// filter would refuse is ever seen (nothing to drain).
    pub fn open(iface: &Interface, cfg: &SocketConfig) -> Result<RawSocket, Error> {
        Self::open_member(iface, cfg, true)
    }

    /// Opens `n` sockets on `iface` configured by `cfg`, all in fanout
    /// group `cfg.fanout` (when set): as [`RawSocket::open`] `n` times,
    /// but only the first gives the group its program. (Each time a
    /// group's program is replaced, the kernel waits for an RCU grace
    /// period, some 15 ms: a second with 64 sockets.)
    pub fn open_group(
        iface: &Interface,
        cfg: &SocketConfig,
        n: usize,
    ) -> Result<Vec<RawSocket>, Error> {
        (0..n)
            .map(|i| Self::open_member(iface, cfg, i == 0))
            .collect()
    }

    /// [`RawSocket::open`]; `program`: give the fanout group (if any) its
    /// program.
    fn open_member(
        iface: &Interface,
        cfg: &SocketConfig,
        program: bool,
    ) -> Result<RawSocket, Error> {
        // A ring that grows starts small.
        let grow_to = grow::grow_to(cfg);
        let first = SocketConfig {
            ring_bytes: if grow_to > 0 {
                cfg.ring_start_bytes
            } else {
                cfg.ring_bytes
            },
            ..*cfg
        };
        let layout = ring_layout(iface, &first)?;
        let fd = open_socket()?;
        let bfd = fd.as_fd();
        set_ring_version(bfd, &first)?;
        set_filter_and_buffers(bfd, &first)?;
        let ring = Ring::new(bfd, layout).map_err(|(what, e)| match e {
            Errno::ENOMEM => Error::Io {
                context: "allocating the receive ring (lower ring_bytes / --ring-bytes)",
                source: e,
            },
            _ => Error::io(what, e),
        })?;
        let join = cfg.fanout.map(|group| Join {
            group,
            ignore_outgoing: cfg.ignore_outgoing,
            program,
        });
        bind_and_join(bfd, iface, join)?;
        Ok(RawSocket {
            ring,
            fd,
            ifindex: iface.index,
            ifname: iface.name.clone(),
            version: cfg.ring,
            next: 0,
            copy_buf: match cfg.ring {
                RingVersion::V2 => vec![0u8; COPY_BUF_LEN],
                RingVersion::V3 => Vec::new(),
            },
            tx_buf: Vec::with_capacity(64 * 1024),
            tx_ends: Vec::with_capacity(TX_CHUNK),
            tx_vnet: Vec::with_capacity(TX_CHUNK),
            stats: Cell::new(Stats::default()),
            spin: Duration::ZERO,
            nap: Duration::ZERO,
            nap_for: Duration::ZERO,
            slack_set: false,
            batch_max: 0,
            gso_fd: None,
            refused: None,
            iface: iface.clone(),
            cfg: first,
            grow_to,
            growing: None,
        })
    }

    /// Counters since the socket was opened (the kernel's counters reset on
    /// every read; this accumulates them).
    pub fn stats(&self) -> Result<Stats, Error> {
        let k = sys::packet_stats(self.fd.as_fd())
            .map_err(|e| Error::io("getsockopt(PACKET_STATISTICS)", e))?;
        let mut s = self.stats.get();
        s.packets += u64::from(k.tp_packets);
        s.drops += u64::from(k.tp_drops);
        s.freeze_q_cnt += u64::from(k.tp_freeze_q_cnt);
        self.stats.set(s);
        Ok(s)
    }

    /// The socket's file descriptor, e.g. for an external poll loop
    /// (readable when a ring frame (V2) or block (V3) is ready).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for RawSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl std::fmt::Debug for RawSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("ifindex", &self.ifindex)
            .field("ring", &self.version)
            .field("ring_units", &self.ring.unit_nr())
            .finish()
    }
}

/// The ring's geometry from `cfg` (and, for TPACKET_V2, the interface MTU),
/// or why `cfg` is unusable.
fn ring_layout(iface: &Interface, cfg: &SocketConfig) -> Result<RingLayout, Error> {
    let page = sys::page_size();
    if cfg.block_size < 2 * FRAME_SIZE || cfg.block_size % page != 0 {
        return Err(Error::InvalidConfig(
            "block_size must be a multiple of the page size, 4096 bytes on most systems (256 KiB is a good size)",
        ));
    }
    Ok(match cfg.ring {
        RingVersion::V3 => RingLayout::V3 {
            block_size: cfg.block_size,
            block_nr: (cfg.ring_bytes / cfg.block_size).max(1),
            frame_size: FRAME_SIZE,
            retire_ms: cfg.block_timeout_ms,
        },
        RingVersion::V2 => {
            let frame_size = v2_frame_size(iface.mtu);
            let block_size = cfg.block_size.max(frame_size).next_multiple_of(page);
            RingLayout::V2 {
                block_size,
                block_nr: (cfg.ring_bytes / block_size).max(1),
                frame_size,
            }
        }
    })
}

/// `PACKET_VERSION`, and for TPACKET_V2 what frames larger than a slot
/// need.
fn set_ring_version(bfd: BorrowedFd<'_>, cfg: &SocketConfig) -> Result<(), Error> {
    match cfg.ring {
        RingVersion::V3 => {
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_VERSION, sys::TPACKET_V3)
                .map_err(|e| Error::io("setsockopt(PACKET_VERSION, TPACKET_V3)", e))?;
        }
        RingVersion::V2 => {
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_VERSION, sys::TPACKET_V2)
                .map_err(|e| Error::io("setsockopt(PACKET_VERSION, TPACKET_V2)", e))?;
            // Frames larger than a slot: also queue them whole on the
            // socket (TP_STATUS_COPY) ...
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_COPY_THRESH, 1)
                .map_err(|e| Error::io("setsockopt(PACKET_COPY_THRESH)", e))?;
            // ... with their checksum status when read ...
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_AUXDATA, 1)
                .map_err(|e| Error::io("setsockopt(PACKET_AUXDATA)", e))?;
            // ... in a receive buffer large enough to hold them until then
            // (the kernel copies only while the buffer has room). Best
            // effort, like the send buffer below.
            let rcvbuf =
                libc::c_int::try_from(cfg.ring_bytes.max(4 << 20)).unwrap_or(libc::c_int::MAX / 2);
            if sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, rcvbuf).is_err() {
                let _ = sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf);
            }
        }
    }
    Ok(())
}

/// `PACKET_IGNORE_OUTGOING`, the BPF filter, and a larger send buffer.
fn set_filter_and_buffers(bfd: BorrowedFd<'_>, cfg: &SocketConfig) -> Result<(), Error> {
    if cfg.ignore_outgoing {
        sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_IGNORE_OUTGOING, 1)
            .map_err(|e| Error::io("setsockopt(PACKET_IGNORE_OUTGOING) (kernel >= 4.20)", e))?;
    }
    if let Some(f) = cfg.filter {
        sys::attach_filter(
            bfd,
            &bpf::tcp_to(f.ipv4, f.ipv6, (!f.all_ports).then_some(f.tcp_port), f.arp),
        )
        .map_err(|e| Error::io("setsockopt(SO_ATTACH_FILTER)", e))?;
    }
    // A larger send buffer lets a whole batch go out at once; best effort
    // (SO_SNDBUFFORCE needs CAP_NET_ADMIN, SO_SNDBUF is capped by wmem_max).
    let sndbuf = 4 << 20;
    if sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, sndbuf).is_err() {
        let _ = sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf);
    }
    Ok(())
}

/// How a socket joins its fanout group ([`SocketConfig::fanout`]).
#[derive(Clone, Copy, Debug)]
struct Join {
    group: u16,
    /// The group ignores outgoing frames (see [`join_fanout`]).
    ignore_outgoing: bool,
    /// This socket gives the group its program.
    program: bool,
}

/// Binds the socket to `iface` (frames start to arrive) and joins the
/// fanout group, if any.
fn bind_and_join(
    bfd: BorrowedFd<'_>,
    iface: &Interface,
    fanout: Option<Join>,
) -> Result<(), Error> {
    sys::bind_packet(bfd, iface.index, ETH_P_ALL).map_err(|e| match e {
        Errno::ENODEV | Errno::ENXIO => Error::NoSuchInterface(iface.name.clone()),
        Errno::ENETDOWN => Error::InterfaceDown(iface.name.clone()),
        _ => Error::io("bind(AF_PACKET) to the interface", e),
    })?;
    if let Some(join) = fanout {
        join_fanout(bfd, join)?;
    }
    Ok(())
}

/// Joins fanout group `j.group` (created by the first socket to join) as
/// [`SocketConfig::fanout`] says, and gives the group its program if
/// `j.program`.
fn join_fanout(bfd: BorrowedFd<'_>, j: Join) -> Result<(), Error> {
    let Join {
        group,
        ignore_outgoing,
        program,
    } = j;
    let join = |flags: u32| {
        let arg =
            u32::from(group) | ((PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG | flags) << 16);
        sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_FANOUT, arg as libc::c_int)
    };
    // A socket in a group receives through the group's hook, not its own,
    // so its PACKET_IGNORE_OUTGOING no longer applies: the group's flag
    // does (Linux 6.2). Without it every frame the host sends on the
    // interface (ours are never looped back to the group: `skb_loop_sk`)
    // is cloned and run through the fanout program and a socket filter
    // (which drops it: not to our address). An older kernel refuses the
    // flag (EINVAL): the group is made without it, and the sockets that
    // join it after find it so.
    let joined = if ignore_outgoing {
        join(PACKET_FANOUT_FLAG_IGNORE_OUTGOING).or_else(|e| match e {
            Errno::EINVAL => join(0),
            e => Err(e),
        })
    } else {
        join(0)
    };
    joined.map_err(|e| {
        Error::io(
            "setsockopt(PACKET_FANOUT) (PACKET_FANOUT_CBPF needs Linux >= 4.2; every socket of a group needs the same interface and settings)",
            e,
        )
    })?;
    // The program is the group's, whichever member sets it. (Until one
    // does, the kernel sends every frame to the first socket.)
    if !program {
        return Ok(());
    }
    sys::set_fanout_program(bfd, &bpf::fanout_by_peer())
        .map_err(|e| Error::io("setsockopt(PACKET_FANOUT_DATA)", e))
}

/// `socket(AF_PACKET, SOCK_RAW, 0)`: receives nothing until bound.
pub(crate) fn open_socket() -> Result<OwnedFd, Error> {
    socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| match e {
        Errno::EPERM | Errno::EACCES => Error::PermissionDenied,
        Errno::EAFNOSUPPORT => Error::Io {
            context: "socket(AF_PACKET): the kernel lacks CONFIG_PACKET",
            source: e,
        },
        _ => Error::io("socket(AF_PACKET, SOCK_RAW)", e),
    })
}

/// The TPACKET_V2 slot size for an interface MTU: room for the header, a
/// VLAN-tagged frame of that MTU, as a power of two in 2 KiB ..= 16 KiB.
fn v2_frame_size(mtu: u32) -> usize {
    let need = V2_MAC_OFF + 18 + mtu as usize;
    need.next_power_of_two()
        .clamp(FRAME_SIZE, V2_MAX_FRAME_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_frame_size_follows_mtu() {
        assert_eq!(v2_frame_size(1500), 2048);
        assert_eq!(v2_frame_size(0), 2048);
        assert_eq!(v2_frame_size(4000), 4096);
        assert_eq!(v2_frame_size(4100), 8192);
        assert_eq!(v2_frame_size(9000), 16384);
        assert_eq!(v2_frame_size(65536), 16384);
        assert!(V2_MAC_OFF + 14 + 1500 <= v2_frame_size(1500));
    }
}
