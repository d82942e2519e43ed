//! [`RawSocket`]: an AF_PACKET socket bound to one interface, receiving
//! through a TPACKET_V2 or TPACKET_V3 ring and sending with `sendmmsg`.

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{getsockopt, socket, sockopt, AddressFamily, SockFlag, SockType};

use crate::sys::{self, Ring, RingLayout};
use crate::{bpf, Error, Interface};

/// `ETH_P_ALL`.
const ETH_P_ALL: u16 = 0x0003;
/// `PACKET_FANOUT_HASH`.
const PACKET_FANOUT_HASH: u32 = 0;
/// `PACKET_FANOUT_FLAG_DEFRAG`.
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
/// `TP_STATUS_COPY`: the frame did not fit its TPACKET_V2 slot and was also
/// queued on the socket whole, to be read with `recv`.
const TP_STATUS_COPY: u32 = 1 << 1;
/// `TP_STATUS_CSUMNOTREADY`.
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// `TP_STATUS_CSUM_VALID`.
const TP_STATUS_CSUM_VALID: u32 = 1 << 7;
/// Size of `struct tpacket3_hdr`.
const TPACKET3_HDR_LEN: usize = 48;
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
/// Frames per `sendmmsg` call.
const TX_CHUNK: usize = 512;
/// How long `flush` keeps retrying a full transmit queue before giving up.
const TX_RETRY_FOR: Duration = Duration::from_millis(200);
/// Largest frame `queue` accepts: an IPv4 packet of 64 KiB plus Ethernet.
const MAX_FRAME: usize = 65535 + 14;

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
/// | per-frame cost | a status read and write per frame, and a wakeup per frame of a reader asleep in `poll` | per block |
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
    /// Join this `PACKET_FANOUT_HASH` group: sockets in one group on one
    /// interface share its frames, each flow always going to the same socket.
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
    stats: Cell<Stats>,
    /// How long `recv_batch` watches the ring before it sleeps in `poll`.
    spin: Duration,
    /// After the spin: naps of this length (zero: none) ...
    nap: Duration,
    /// ... for up to this long in all, before `poll`.
    nap_for: Duration,
    /// The calling thread's timer slack was set for naps.
    slack_set: bool,
    /// With GSO on: the socket frames are sent through, opened with
    /// `PACKET_VNET_HDR` (every queued frame then starts with a
    /// `virtio_net_hdr`).
    gso_fd: Option<OwnedFd>,
    /// The last frame the kernel refused (see `take_refused`).
    refused: Option<Error>,
}

/// Size of `struct virtio_net_hdr`.
const VNET_HDR_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
const VNET_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
const VNET_GSO_TCPV4: u8 = 1;

/// A `virtio_net_hdr` (host byte order, as the packet socket expects on a
/// little-endian host).
fn vnet_hdr(
    flags: u8,
    gso_type: u8,
    hdr_len: u16,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
) -> [u8; VNET_HDR_LEN] {
    let mut h = [0u8; VNET_HDR_LEN];
    h[0] = flags;
    h[1] = gso_type;
    h[2..4].copy_from_slice(&hdr_len.to_ne_bytes());
    h[4..6].copy_from_slice(&gso_size.to_ne_bytes());
    h[6..8].copy_from_slice(&csum_start.to_ne_bytes());
    h[8..10].copy_from_slice(&csum_offset.to_ne_bytes());
    h
}

impl RawSocket {
    /// Opens a socket on `iface` configured by `cfg`.
    ///
    /// The socket is created with protocol 0, so it receives nothing until
    /// the filter and ring are in place and it is bound: no frame that the
    /// filter would refuse is ever seen (nothing to drain).
    pub fn open(iface: &Interface, cfg: &SocketConfig) -> Result<RawSocket, Error> {
        let page = sys::page_size();
        if cfg.block_size < 2 * FRAME_SIZE || cfg.block_size % page != 0 {
            return Err(Error::InvalidConfig(
                "block_size must be a multiple of the page size, 4096 bytes on most systems (256 KiB is a good size)",
            ));
        }
        let layout = match cfg.ring {
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
        };
        let fd = open_socket()?;
        let bfd = fd.as_fd();
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
                let rcvbuf = libc::c_int::try_from(cfg.ring_bytes.max(4 << 20))
                    .unwrap_or(libc::c_int::MAX / 2);
                if sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, rcvbuf).is_err()
                {
                    let _ = sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf);
                }
            }
        }
        if cfg.ignore_outgoing {
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_IGNORE_OUTGOING, 1)
                .map_err(|e| Error::io("setsockopt(PACKET_IGNORE_OUTGOING) (kernel >= 4.20)", e))?;
        }
        if let Some(f) = cfg.filter {
            sys::attach_filter(
                bfd,
                &bpf::tcp_to(f.ipv4, (!f.all_ports).then_some(f.tcp_port), f.arp),
            )
            .map_err(|e| Error::io("setsockopt(SO_ATTACH_FILTER)", e))?;
        }
        // A larger send buffer lets a whole batch go out at once; best effort
        // (SO_SNDBUFFORCE needs CAP_NET_ADMIN, SO_SNDBUF is capped by wmem_max).
        let sndbuf = 4 << 20;
        if sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, sndbuf).is_err() {
            let _ = sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf);
        }
        let ring = Ring::new(bfd, layout).map_err(|(what, e)| match e {
            Errno::ENOMEM => Error::Io {
                context: "allocating the receive ring (lower ring_bytes / --ring-bytes)",
                source: e,
            },
            _ => Error::io(what, e),
        })?;
        sys::bind_packet(bfd, iface.index, ETH_P_ALL).map_err(|e| match e {
            Errno::ENODEV | Errno::ENXIO => Error::NoSuchInterface(iface.name.clone()),
            Errno::ENETDOWN => Error::InterfaceDown(iface.name.clone()),
            _ => Error::io("bind(AF_PACKET) to the interface", e),
        })?;
        if let Some(group) = cfg.fanout {
            let arg = u32::from(group) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_FANOUT, arg as libc::c_int)
                .map_err(|e| {
                    Error::io(
                        "setsockopt(PACKET_FANOUT) (every socket of a group needs the same interface and settings)",
                        e,
                    )
                })?;
        }
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
            stats: Cell::new(Stats::default()),
            spin: Duration::ZERO,
            nap: Duration::ZERO,
            nap_for: Duration::ZERO,
            slack_set: false,
            gso_fd: None,
            refused: None,
        })
    }

    /// Sends through a second packet socket opened with `PACKET_VNET_HDR`,
    /// so that [`RawSocket::queue_gso`] can hand the kernel one large TCP
    /// segment that it cuts into MSS-sized frames itself (in the device, or
    /// in software when the interface has no TSO). Fails when the kernel
    /// refuses the option; frames are then sent as before.
    pub fn enable_gso(&mut self) -> Result<(), Error> {
        let fd = open_socket()?;
        sys::setsockopt_int(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)
            .map_err(|e| Error::io("setsockopt(PACKET_VNET_HDR)", e))?;
        if !self.tx_ends.is_empty() {
            return Err(Error::InvalidConfig("enable_gso with frames queued"));
        }
        self.gso_fd = Some(fd);
        Ok(())
    }

    /// Whether [`RawSocket::enable_gso`] succeeded.
    pub fn gso(&self) -> bool {
        self.gso_fd.is_some()
    }

    /// Queues one IPv4/TCP frame whose payload the kernel cuts into segments
    /// of `gso_size` bytes (GSO, `VIRTIO_NET_HDR_GSO_TCPV4`). The frame's
    /// IPv4 header is the whole frame's (the kernel fixes length, id and
    /// checksum per segment); its TCP checksum field must hold the
    /// pseudo-header sum (folded, not inverted), as for any
    /// `CHECKSUM_PARTIAL` segment. Without GSO enabled, an error.
    pub fn queue_gso(&mut self, frame: &[u8], gso_size: u16) -> Result<(), Error> {
        if self.gso_fd.is_none() {
            return Err(Error::InvalidConfig("queue_gso without enable_gso"));
        }
        let bad = || Error::Io {
            context: "queue_gso: not an Ethernet/IPv4/TCP frame",
            source: Errno::EINVAL,
        };
        let ihl = usize::from(frame.get(14).ok_or_else(bad)? & 0x0f) * 4;
        let doff = usize::from(frame.get(14 + ihl + 12).ok_or_else(bad)? >> 4) * 4;
        let hdr_len = 14 + ihl + doff;
        if frame.len() > MAX_FRAME || hdr_len > frame.len() {
            return Err(bad());
        }
        let h = vnet_hdr(
            VNET_NEEDS_CSUM,
            VNET_GSO_TCPV4,
            hdr_len as u16,
            gso_size,
            (14 + ihl) as u16,
            16,
        );
        self.tx_buf.extend_from_slice(&h);
        self.tx_buf.extend_from_slice(frame);
        self.tx_ends.push(self.tx_buf.len());
        Ok(())
    }

    /// Watch the ring for up to `spin` before sleeping in `poll` when it is
    /// empty (default: zero, sleep at once). The kernel wakes a sleeping
    /// reader once per frame with a V2 ring; a short spin lets a busy
    /// receiver take frames in batches instead, at the cost of CPU time
    /// while traffic pauses.
    pub fn set_spin(&mut self, spin: Duration) {
        self.spin = spin;
    }

    /// After the spin, sleep `nap` at a time (`nanosleep`, not `poll`), for
    /// up to `nap_for` in all, looking at the ring after each nap, before
    /// sleeping in `poll` (zero for either: no naps, the default).
    ///
    /// For a receiver that keeps up with a fast sender: spinning keeps this
    /// CPU busy, which slows a sender on a sibling hardware thread (measured
    /// on a 2-vCPU VM: a busy loop on the other CPU took a Linux-to-Linux
    /// 1 GiB upload from about 28 to 18.5 Gbit/s), and sleeping in `poll`
    /// makes the sender's CPU wake this thread for every frame. A nap does
    /// neither: frames gather in the ring meanwhile and are taken as one
    /// batch, at the cost of up to one nap of latency. The socket's first
    /// nap sets the calling thread's timer slack to 1 ns
    /// (`PR_SET_TIMERSLACK`), as the default 50 µs would stretch every nap;
    /// a socket handed to another thread should nap there first or set it.
    pub fn set_nap(&mut self, nap: Duration, nap_for: Duration) {
        self.nap = nap;
        self.nap_for = nap_for;
    }

    /// Waits up to `timeout` (`None`: forever) for received frames, then
    /// calls `f` for each frame available (a batch, zero-copy from the ring;
    /// at most one pass over the ring) and returns how many. Returns `Ok(0)`
    /// on timeout, and also when a signal interrupted the wait. A timeout no
    /// longer than the spin and naps (see [`RawSocket::set_spin`] and
    /// [`RawSocket::set_nap`]) is waited by watching the ring only, without
    /// `poll`; `Some(Duration::ZERO)` takes what the ring holds and returns
    /// at once.
    pub fn recv_batch<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize, Error> {
        let naps = !self.nap.is_zero() && !self.nap_for.is_zero();
        let watch = if naps {
            self.spin.max(self.nap_for)
        } else {
            self.spin
        };
        let no_poll = timeout.is_some_and(|t| t.is_zero() || t <= watch);
        if self.ring.unit(self.next).is_none() && !watch.is_zero() {
            let start = std::time::Instant::now();
            let spin = timeout.map_or(self.spin, |t| t.min(self.spin));
            while self.ring.unit(self.next).is_none() && start.elapsed() < spin {
                std::hint::spin_loop();
            }
            if naps {
                if !self.slack_set {
                    self.slack_set = true;
                    let _ = nix::sys::prctl::set_timerslack(1);
                }
                let until = timeout.map_or(self.nap_for, |t| t.min(self.nap_for));
                // Bounded in time: it ends once `until` has passed.
                while self.ring.unit(self.next).is_none() && start.elapsed() < until {
                    std::thread::sleep(self.nap.min(until.saturating_sub(start.elapsed())));
                }
            }
        }
        if self.ring.unit(self.next).is_none() && !no_poll {
            let t = match timeout {
                None => PollTimeout::NONE,
                Some(d) => {
                    // Round up so that a 0.5 ms timeout does not spin.
                    let ms = d.as_micros().div_ceil(1000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, t) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::io("poll on the packet socket", e)),
            }
            let revents = fds[0].revents().unwrap_or(PollFlags::empty());
            if revents.contains(PollFlags::POLLERR) {
                // A pending socket error (e.g. the interface went down): report
                // it once (reading SO_ERROR clears it) instead of spinning.
                let err = getsockopt(&self.fd, sockopt::SocketError).unwrap_or(0);
                match Errno::from_raw(err) {
                    Errno::UnknownErrno => {}
                    Errno::ENETDOWN => return Err(Error::InterfaceDown(self.ifname.clone())),
                    Errno::ENODEV | Errno::ENXIO => {
                        return Err(Error::NoSuchInterface(self.ifname.clone()))
                    }
                    e => return Err(Error::io("packet socket error", e)),
                }
            }
        }
        let mut count = 0usize;
        let mut stats = self.stats.get();
        let units = self.ring.unit_nr();
        match self.version {
            RingVersion::V3 => {
                for _ in 0..units {
                    let Some(block) = self.ring.unit(self.next) else {
                        break;
                    };
                    count += walk_block(block, &mut stats, &mut f);
                    self.ring.release(self.next);
                    self.next = (self.next + 1) % units;
                }
            }
            RingVersion::V2 => {
                let fd = self.fd.as_fd();
                let mut copy = |buf: &mut [u8]| sys::recv_frame(fd, buf).ok();
                for _ in 0..units {
                    let Some(slot) = self.ring.unit(self.next) else {
                        break;
                    };
                    count += take_slot(slot, &mut self.copy_buf, &mut copy, &mut stats, &mut f);
                    self.ring.release(self.next);
                    self.next = (self.next + 1) % units;
                }
            }
        }
        self.stats.set(stats);
        Ok(count)
    }

    /// Queues a copy of `frame` (a whole Ethernet frame) for the next
    /// [`flush`](Self::flush).
    pub fn queue(&mut self, frame: &[u8]) -> Result<(), Error> {
        if frame.len() < 14 || frame.len() > MAX_FRAME {
            return Err(Error::Io {
                context: "queue: a frame must be 14..=65549 bytes (Ethernet header included)",
                source: Errno::EMSGSIZE,
            });
        }
        if self.gso_fd.is_some() {
            // Through the PACKET_VNET_HDR socket: a header saying "nothing to do".
            self.tx_buf.extend_from_slice(&[0u8; VNET_HDR_LEN]);
        }
        self.tx_buf.extend_from_slice(frame);
        self.tx_ends.push(self.tx_buf.len());
        Ok(())
    }

    /// Number of frames queued and not yet flushed.
    pub fn queued(&self) -> usize {
        self.tx_ends.len()
    }

    /// Sends every queued frame (`sendmmsg`, up to 512 per call) and returns
    /// how many the kernel took. A full transmit queue (`ENOBUFS`/`EAGAIN`)
    /// is waited for and retried for up to 200 ms; after that the remaining
    /// frames are dropped, counted in [`Stats::tx_dropped`], and the error
    /// returned (see [`Error::is_transient`]). A frame the kernel refuses on
    /// its own (`EMSGSIZE`: larger than the MTU; `EINVAL`, ...) is that
    /// frame's problem, not the socket's: it is skipped, counted in
    /// [`Stats::tx_refused`] and [`Stats::tx_dropped`], the frames after it
    /// are sent, and the error is kept for [`take_refused`](Self::take_refused).
    /// Only errors that end the socket's use (the interface gone or down, a
    /// missing privilege) are returned as such. The queue is empty afterwards
    /// either way.
    pub fn flush(&mut self) -> Result<usize, Error> {
        let mut frames: Vec<&[u8]> = Vec::with_capacity(self.tx_ends.len());
        let mut start = 0;
        for &end in &self.tx_ends {
            frames.push(self.tx_buf.get(start..end).unwrap_or(&[]));
            start = end;
        }
        let mut stats = self.stats.get();
        let mut sent = 0usize;
        let mut refused = 0usize;
        let mut result = Ok(());
        let mut deadline: Option<Instant> = None;
        // Bounded: every pass either sends something or waits, and the waits
        // end at the deadline.
        for _ in 0..1_000_000 {
            if sent >= frames.len() {
                break;
            }
            let chunk = &frames[sent..frames.len().min(sent + TX_CHUNK)];
            let fd = self.gso_fd.as_ref().unwrap_or(&self.fd).as_fd();
            let skip = if self.gso_fd.is_some() {
                VNET_HDR_LEN
            } else {
                0
            };
            match sys::send_frames(fd, self.ifindex, chunk, skip) {
                Ok(0) => {}
                Ok(n) => {
                    sent += n;
                    deadline = None;
                    continue;
                }
                Err(Errno::EINTR) => continue,
                Err(e @ (Errno::ENOBUFS | Errno::EAGAIN)) => {
                    let now = Instant::now();
                    let d = *deadline.get_or_insert(now + TX_RETRY_FOR);
                    if now >= d {
                        result = Err(Error::io(
                            "sendmmsg: transmit queue full for 200 ms, frames dropped",
                            e,
                        ));
                        break;
                    }
                    stats.tx_retries += 1;
                    if e == Errno::EAGAIN {
                        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
                        let _ = poll(&mut fds, PollTimeout::from(10u8));
                    } else {
                        // ENOBUFS (qdisc full) gives no poll readiness: back off.
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    continue;
                }
                Err(Errno::ENETDOWN | Errno::ENXIO | Errno::ENODEV) => {
                    result = Err(Error::InterfaceDown(self.ifname.clone()));
                    break;
                }
                Err(e @ (Errno::EPERM | Errno::EACCES)) => {
                    result = Err(Error::io("sendmmsg on the packet socket", e));
                    break;
                }
                Err(e) => {
                    // sendmmsg stopped at frame `sent`: the kernel refused
                    // that one frame. It is skipped; the rest go on.
                    let context = match e {
                        Errno::EMSGSIZE => {
                            "sendmmsg: a frame larger than the interface MTU was dropped"
                        }
                        _ => "sendmmsg: the kernel refused a frame, which was dropped",
                    };
                    self.refused = Some(Error::Io { context, source: e });
                    refused += 1;
                    sent += 1;
                    deadline = None;
                }
            }
        }
        let taken = sent - refused;
        if sent < frames.len() && result.is_ok() {
            result = Err(Error::io("sendmmsg made no progress", Errno::EIO));
        }
        stats.tx_frames += taken as u64;
        stats.tx_refused += refused as u64;
        stats.tx_dropped += (frames.len() - taken) as u64;
        self.stats.set(stats);
        drop(frames);
        self.tx_buf.clear();
        self.tx_ends.clear();
        result.map(|()| taken)
    }

    /// The last frame the kernel refused since this was last called (see
    /// [`flush`](Self::flush)), for a warning; `None` if none was.
    pub fn take_refused(&mut self) -> Option<Error> {
        self.refused.take()
    }

    /// Sends one frame now: [`queue`](Self::queue) then [`flush`](Self::flush)
    /// (which also sends anything queued before).
    pub fn send(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.queue(frame)?;
        self.flush().map(|_| ())
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

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

/// The TPACKET_V2 slot size for an interface MTU: room for the header, a
/// VLAN-tagged frame of that MTU, as a power of two in 2 KiB ..= 16 KiB.
fn v2_frame_size(mtu: u32) -> usize {
    let need = V2_MAC_OFF + 18 + mtu as usize;
    need.next_power_of_two()
        .clamp(FRAME_SIZE, V2_MAX_FRAME_SIZE)
}

fn csum_of(status: u32) -> CsumStatus {
    if status & TP_STATUS_CSUMNOTREADY != 0 {
        CsumStatus::NotReady
    } else if status & TP_STATUS_CSUM_VALID != 0 {
        CsumStatus::Valid
    } else {
        CsumStatus::Unknown
    }
}

/// Reads the next frame queued on the socket into the buffer: (its whole
/// length, the `tp_status` of its auxdata); None if none could be read.
type CopyFn<'a> = dyn FnMut(&mut [u8]) -> Option<(usize, Option<u32>)> + 'a;

/// Hands the frame of one TPACKET_V2 slot (`struct tpacket2_hdr`, then the
/// frame at `tp_mac`) to `f`; returns 1, or 0 if the header is malformed.
///
/// A slot marked `TP_STATUS_COPY` holds only the head of a frame larger than
/// the slot; the kernel queued the whole frame on the socket before it made
/// the slot visible, in slot order, and queues nothing else there (with a
/// ring, frames reach the socket queue only this way). So the next frame
/// `copy` reads is this one. It is checked anyway (same length, same first
/// bytes); if it does not match, or nothing could be read, the truncated
/// slot is what `f` gets (counted in [`Stats::truncated`]).
///
/// Checksum status of a copied frame: from its `PACKET_AUXDATA`, computed by
/// the kernel from the same skb as the slot's status (the slot's status is
/// the fallback).
fn take_slot<F: FnMut(&[u8], &RxMeta)>(
    slot: &[u8],
    buf: &mut [u8],
    copy: &mut CopyFn<'_>,
    stats: &mut Stats,
    f: &mut F,
) -> usize {
    let (Some(status), Some(len), Some(snap), Some(mac), Some(sec), Some(nsec)) = (
        u32_at(slot, 0),
        u32_at(slot, 4),
        u32_at(slot, 8),
        u16_at(slot, 12),
        u32_at(slot, 16),
        u32_at(slot, 20),
    ) else {
        return 0;
    };
    let start = usize::from(mac);
    let Some(head) = slot.get(start..start.saturating_add(snap as usize)) else {
        return 0;
    };
    let timestamp = SystemTime::UNIX_EPOCH + Duration::new(u64::from(sec), nsec.min(999_999_999));
    let mut meta = RxMeta {
        csum: csum_of(status),
        len: len as usize,
        timestamp,
    };
    let mut data = head;
    if status & TP_STATUS_COPY != 0 {
        if let Some((whole, aux)) = copy(buf) {
            let got = buf.get(..whole.min(buf.len())).unwrap_or(&[]);
            if whole == meta.len && got.starts_with(head) {
                data = got;
                stats.copied += 1;
                if let Some(st) = aux {
                    meta.csum = csum_of(st);
                }
            }
        }
    }
    if data.len() < meta.len {
        stats.truncated += 1;
    }
    f(data, &meta);
    stats.rx_frames += 1;
    1
}

/// Calls `f` for every frame of a TPACKET_V3 block; returns how many. Never
/// trusts an offset: a frame that would reach outside the block ends the walk.
fn walk_block<F: FnMut(&[u8], &RxMeta)>(block: &[u8], stats: &mut Stats, f: &mut F) -> usize {
    // struct tpacket_hdr_v1 starts at offset 8 of the block descriptor.
    let (Some(num_pkts), Some(first)) = (u32_at(block, 12), u32_at(block, 16)) else {
        return 0;
    };
    let mut off = first as usize;
    let mut n = 0;
    for _ in 0..num_pkts {
        let Some(hdr) = block.get(off..off.saturating_add(TPACKET3_HDR_LEN)) else {
            break;
        };
        let (Some(next), Some(sec), Some(nsec), Some(snap), Some(len), Some(status), Some(mac)) = (
            u32_at(hdr, 0),
            u32_at(hdr, 4),
            u32_at(hdr, 8),
            u32_at(hdr, 12),
            u32_at(hdr, 16),
            u32_at(hdr, 20),
            u16_at(hdr, 24),
        ) else {
            break;
        };
        let start = off + usize::from(mac);
        let Some(data) = block.get(start..start.saturating_add(snap as usize)) else {
            break;
        };
        let csum = csum_of(status);
        if snap < len {
            stats.truncated += 1;
        }
        let meta = RxMeta {
            csum,
            len: len as usize,
            timestamp: SystemTime::UNIX_EPOCH
                + Duration::new(u64::from(sec), nsec.min(999_999_999)),
        };
        f(data, &meta);
        n += 1;
        if next == 0 {
            break;
        }
        off = off.saturating_add(next as usize);
    }
    stats.rx_frames += n as u64;
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_block_survives_garbage() {
        let mut block = vec![0u8; 4096];
        block[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        block[16..20].copy_from_slice(&4090u32.to_ne_bytes());
        let mut s = Stats::default();
        assert_eq!(walk_block(&block, &mut s, &mut |_, _| {}), 0);
        // One well-formed frame of 60 bytes at offset 48, then a bad next offset.
        block[16..20].copy_from_slice(&48u32.to_ne_bytes());
        let h = 48;
        block[h..h + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        block[h + 12..h + 16].copy_from_slice(&60u32.to_ne_bytes());
        block[h + 16..h + 20].copy_from_slice(&70u32.to_ne_bytes());
        block[h + 20..h + 24].copy_from_slice(&(TP_STATUS_CSUM_VALID | 1).to_ne_bytes());
        block[h + 24..h + 26].copy_from_slice(&80u16.to_ne_bytes());
        let mut seen = Vec::new();
        let n = walk_block(&block, &mut s, &mut |d: &[u8], m: &RxMeta| {
            seen.push((d.len(), *m))
        });
        assert_eq!(n, 1);
        assert_eq!(seen[0].0, 60);
        assert_eq!(seen[0].1.len, 70);
        assert_eq!(seen[0].1.csum, CsumStatus::Valid);
        assert_eq!(s.truncated, 1);
    }

    /// A TPACKET_V2 slot: header, then `data` at offset 66.
    fn slot(status: u32, len: u32, data: &[u8]) -> Vec<u8> {
        let mut s = vec![0u8; 2048];
        s[0..4].copy_from_slice(&status.to_ne_bytes());
        s[4..8].copy_from_slice(&len.to_ne_bytes());
        s[8..12].copy_from_slice(&(data.len() as u32).to_ne_bytes());
        s[12..14].copy_from_slice(&(V2_MAC_OFF as u16).to_ne_bytes());
        s[16..20].copy_from_slice(&7u32.to_ne_bytes());
        s[V2_MAC_OFF..V2_MAC_OFF + data.len()].copy_from_slice(data);
        s
    }

    #[test]
    fn take_slot_plain_copy_and_fallbacks() {
        let mut st = Stats::default();
        let mut buf = vec![0u8; 256];
        let mut seen: Vec<(Vec<u8>, RxMeta)> = Vec::new();
        let mut cb = |d: &[u8], m: &RxMeta| seen.push((d.to_vec(), *m));
        let mut no_copy = |_: &mut [u8]| -> Option<(usize, Option<u32>)> { panic!("no copy") };
        // A plain frame.
        let s = slot(1 | TP_STATUS_CSUM_VALID, 5, b"hello");
        assert_eq!(take_slot(&s, &mut buf, &mut no_copy, &mut st, &mut cb), 1);
        // Garbage: mac offset beyond the slot.
        let mut g = slot(1, 5, b"hello");
        g[12..14].copy_from_slice(&4000u16.to_ne_bytes());
        assert_eq!(take_slot(&g, &mut buf, &mut no_copy, &mut st, &mut cb), 0);
        // A copied frame: the slot has the head, the queue the whole.
        let whole: Vec<u8> = (0..200u8).collect();
        let s = slot(1 | TP_STATUS_COPY, 200, &whole[..50]);
        let mut copy = |b: &mut [u8]| {
            b[..200].copy_from_slice(&whole);
            Some((200, Some(1 | TP_STATUS_CSUMNOTREADY)))
        };
        assert_eq!(take_slot(&s, &mut buf, &mut copy, &mut st, &mut cb), 1);
        // A copy that does not match (other bytes), and none at all: the
        // truncated head is handed out.
        let mut wrong = |b: &mut [u8]| {
            b[..200].fill(9);
            Some((200, None))
        };
        assert_eq!(take_slot(&s, &mut buf, &mut wrong, &mut st, &mut cb), 1);
        let mut none = |_: &mut [u8]| None;
        assert_eq!(take_slot(&s, &mut buf, &mut none, &mut st, &mut cb), 1);
        // Larger than the buffer: cut to it, counted as truncated.
        let mut big = |b: &mut [u8]| {
            b[..200].copy_from_slice(&whole);
            Some((300, None))
        };
        let s3 = slot(1 | TP_STATUS_COPY, 300, &whole[..50]);
        assert_eq!(take_slot(&s3, &mut buf, &mut big, &mut st, &mut cb), 1);
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[0].0, b"hello");
        assert_eq!(seen[0].1.csum, CsumStatus::Valid);
        assert_eq!(seen[0].1.len, 5);
        assert_eq!(
            seen[0].1.timestamp,
            SystemTime::UNIX_EPOCH + Duration::from_secs(7)
        );
        assert_eq!(seen[1].0, whole);
        assert_eq!(seen[1].1.csum, CsumStatus::NotReady);
        assert_eq!((seen[2].0.len(), seen[2].1.len), (50, 200));
        assert_eq!((seen[3].0.len(), seen[3].1.len), (50, 200));
        assert_eq!((seen[4].0.len(), seen[4].1.len), (256, 300));
        assert_eq!(st.rx_frames, 5);
        assert_eq!(st.copied, 2);
        assert_eq!(st.truncated, 3);
    }

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
