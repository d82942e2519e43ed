//! [`RawSocket`]: an AF_PACKET socket bound to one interface, receiving
//! through a TPACKET_V3 ring and sending with `sendmmsg`.

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{getsockopt, socket, sockopt, AddressFamily, SockFlag, SockType};

use crate::sys::{self, Ring};
use crate::{bpf, Error, Interface};

/// `ETH_P_ALL`.
const ETH_P_ALL: u16 = 0x0003;
/// `PACKET_FANOUT_HASH`.
const PACKET_FANOUT_HASH: u32 = 0;
/// `PACKET_FANOUT_FLAG_DEFRAG`.
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
/// `TP_STATUS_CSUMNOTREADY`.
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// `TP_STATUS_CSUM_VALID`.
const TP_STATUS_CSUM_VALID: u32 = 1 << 7;
/// Size of `struct tpacket3_hdr`.
const TPACKET3_HDR_LEN: usize = 48;
/// `tp_frame_size` given to the kernel; TPACKET_V3 packs frames of any size
/// into a block, this only has to divide the block size.
const FRAME_SIZE: usize = 2048;
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

/// Which frames the kernel lets through to the ring (a classic BPF filter);
/// everything else is dropped in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// IPv4 TCP frames to this destination address ...
    pub ipv4: Ipv4Addr,
    /// ... and this destination port pass (IPv4 fragments do not).
    pub tcp_port: u16,
    /// ARP frames pass too.
    pub arp: bool,
}

/// How to open a [`RawSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    /// Kernel-side filter; `None` receives every frame on the interface.
    pub filter: Option<Filter>,
    /// Total size of the receive ring in bytes (default 16 MiB); rounded
    /// down to a whole number of blocks, at least one.
    pub ring_bytes: usize,
    /// Size of one ring block (default 256 KiB): a multiple of the page
    /// size, and larger than the largest frame (GRO/TSO frames reach 64 KiB).
    /// The kernel hands a block over when it is full or `block_timeout_ms`
    /// has passed, so under light load each block holds only a few frames:
    /// a reader that stalls for longer than `ring_bytes / block_size`
    /// timeouts loses frames even with the ring nearly empty. Many smaller
    /// blocks tolerate stalls better than a few large ones.
    pub block_size: usize,
    /// How long the kernel fills a block before handing it over even if not
    /// full (default 1 ms): the added latency under light load.
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
    /// Times the ring was full (kernel `tp_freeze_q_cnt`).
    pub freeze_q_cnt: u64,
    /// Frames handed to `recv_batch` callbacks.
    pub rx_frames: u64,
    /// Of those, frames cut short (snap length below wire length).
    pub truncated: u64,
    /// Frames the kernel accepted for sending.
    pub tx_frames: u64,
    /// Frames `flush` gave up on (queue full for too long, or refused).
    pub tx_dropped: u64,
    /// Times `flush` waited for a full transmit queue.
    pub tx_retries: u64,
}

/// An AF_PACKET raw socket on one interface.
///
/// Receive: [`recv_batch`](Self::recv_batch) hands out frames straight from
/// the memory-mapped ring. Send: [`queue`](Self::queue) frames, then
/// [`flush`](Self::flush) them with one system call per 512.
pub struct RawSocket {
    // Field order matters: the ring is unmapped before the socket is closed.
    ring: Ring,
    fd: OwnedFd,
    ifindex: u32,
    ifname: String,
    next_block: usize,
    tx_buf: Vec<u8>,
    tx_ends: Vec<usize>,
    stats: Cell<Stats>,
}

impl RawSocket {
    /// Opens a socket on `iface` configured by `cfg`.
    ///
    /// The socket is created with protocol 0, so it receives nothing until
    /// the filter and ring are in place and it is bound: no frame that the
    /// filter would refuse is ever seen (nothing to drain).
    pub fn open(iface: &Interface, cfg: &SocketConfig) -> Result<RawSocket, Error> {
        let page = 4096usize;
        if cfg.block_size < 2 * FRAME_SIZE || cfg.block_size % page != 0 {
            return Err(Error::InvalidConfig(
                "block_size must be a multiple of 4096 bytes (256 KiB is a good size)",
            ));
        }
        let block_nr = (cfg.ring_bytes / cfg.block_size).max(1);
        let fd = open_socket()?;
        let bfd = fd.as_fd();
        sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_VERSION, sys::TPACKET_V3)
            .map_err(|e| Error::io("setsockopt(PACKET_VERSION, TPACKET_V3)", e))?;
        if cfg.ignore_outgoing {
            sys::setsockopt_int(bfd, sys::SOL_PACKET, sys::PACKET_IGNORE_OUTGOING, 1)
                .map_err(|e| Error::io("setsockopt(PACKET_IGNORE_OUTGOING) (kernel >= 4.20)", e))?;
        }
        if let Some(f) = cfg.filter {
            sys::attach_filter(bfd, &bpf::tcp_to(f.ipv4, f.tcp_port, f.arp))
                .map_err(|e| Error::io("setsockopt(SO_ATTACH_FILTER)", e))?;
        }
        // A larger send buffer lets a whole batch go out at once; best effort
        // (SO_SNDBUFFORCE needs CAP_NET_ADMIN, SO_SNDBUF is capped by wmem_max).
        let sndbuf = 4 << 20;
        if sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, sndbuf).is_err() {
            let _ = sys::setsockopt_int(bfd, libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf);
        }
        let ring = Ring::new(
            bfd,
            cfg.block_size,
            block_nr,
            FRAME_SIZE,
            cfg.block_timeout_ms,
        )
        .map_err(|(what, e)| match e {
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
            next_block: 0,
            tx_buf: Vec::with_capacity(64 * 1024),
            tx_ends: Vec::with_capacity(TX_CHUNK),
            stats: Cell::new(Stats::default()),
        })
    }

    /// Waits up to `timeout` (`None`: forever) for received frames, then
    /// calls `f` for each frame available (a batch, zero-copy from the ring)
    /// and returns how many. Returns `Ok(0)` on timeout, and also when a
    /// signal interrupted the wait.
    pub fn recv_batch<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize, Error> {
        if self.ring.block(self.next_block).is_none() {
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
        for _ in 0..self.ring.block_nr() {
            let Some(block) = self.ring.block(self.next_block) else {
                break;
            };
            count += walk_block(block, &mut stats, &mut f);
            self.ring.release(self.next_block);
            self.next_block = (self.next_block + 1) % self.ring.block_nr();
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
    /// is waited for and retried for up to 200 ms; after that, or on another
    /// error, the remaining frames are dropped, counted in
    /// [`Stats::tx_dropped`], and the error returned (see
    /// [`Error::is_transient`]). The queue is empty afterwards either way.
    pub fn flush(&mut self) -> Result<usize, Error> {
        let mut frames: Vec<&[u8]> = Vec::with_capacity(self.tx_ends.len());
        let mut start = 0;
        for &end in &self.tx_ends {
            frames.push(self.tx_buf.get(start..end).unwrap_or(&[]));
            start = end;
        }
        let mut stats = self.stats.get();
        let mut sent = 0usize;
        let mut result = Ok(());
        let mut deadline: Option<Instant> = None;
        // Bounded: every pass either sends something or waits, and the waits
        // end at the deadline.
        for _ in 0..1_000_000 {
            if sent >= frames.len() {
                break;
            }
            let chunk = &frames[sent..frames.len().min(sent + TX_CHUNK)];
            match sys::send_frames(self.fd.as_fd(), self.ifindex, chunk) {
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
                Err(e) => {
                    result = Err(match e {
                        Errno::ENETDOWN | Errno::ENXIO => Error::InterfaceDown(self.ifname.clone()),
                        Errno::EMSGSIZE => {
                            Error::io("sendmmsg: frame larger than the interface MTU", e)
                        }
                        _ => Error::io("sendmmsg on the packet socket", e),
                    });
                    break;
                }
            }
        }
        if sent < frames.len() && result.is_ok() {
            result = Err(Error::io("sendmmsg made no progress", Errno::EIO));
        }
        stats.tx_frames += sent as u64;
        stats.tx_dropped += (frames.len() - sent) as u64;
        self.stats.set(stats);
        drop(frames);
        self.tx_buf.clear();
        self.tx_ends.clear();
        result.map(|()| sent)
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
    /// (readable when a ring block is ready).
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
            .field("ring_blocks", &self.ring.block_nr())
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
        let csum = if status & TP_STATUS_CSUMNOTREADY != 0 {
            CsumStatus::NotReady
        } else if status & TP_STATUS_CSUM_VALID != 0 {
            CsumStatus::Valid
        } else {
            CsumStatus::Unknown
        };
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
}
