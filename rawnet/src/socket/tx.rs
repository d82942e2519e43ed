//! The transmit side of a [`RawSocket`]: frames queued into one buffer,
//! sent in `sendmmsg` batches by `flush`, optionally through a second
//! socket with `PACKET_VNET_HDR` for GSO.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::{open_socket, RawSocket, Stats};
use crate::{sys, Error};

/// Frames per `sendmmsg` call.
pub(super) const TX_CHUNK: usize = 512;
/// How long `flush` keeps retrying a full transmit queue before giving up.
const TX_RETRY_FOR: Duration = Duration::from_millis(200);
/// Largest frame `queue` accepts: an IPv4 packet of 64 KiB plus Ethernet.
const MAX_FRAME: usize = 65535 + 14;

/// Size of `struct virtio_net_hdr`.
const VNET_HDR_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
const VNET_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
const VNET_GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
const VNET_GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_ECN`: the segment has CWR, which only the first of
/// the pieces keeps (Linux `SKB_GSO_TCP_ECN`, `tcp_gso_segment`).
const VNET_GSO_ECN: u8 = 0x80;
/// The CWR bit of the TCP flags byte.
const TCP_CWR: u8 = 0x80;

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

/// One outgoing frame for [`RawSocket::send_frames`], in two parts sent
/// one after the other (a gather write): `head` then `body`.
#[derive(Clone, Copy, Debug)]
pub struct TxFrame<'a> {
    /// The frame's first bytes: the whole frame, or (with a `body`) its
    /// headers.
    pub head: &'a [u8],
    /// The rest of the frame (may be empty).
    pub body: &'a [u8],
    /// The GSO segment size ([`RawSocket::queue_gso`]), or 0 for a plain
    /// frame.
    pub gso_size: u16,
}

/// A frame of `len` bytes may be sent: 14 (the Ethernet header) to
/// [`MAX_FRAME`].
fn check_len(len: usize, context: &'static str) -> Result<(), Error> {
    if (14..=MAX_FRAME).contains(&len) {
        Ok(())
    } else {
        Err(Error::Io {
            context,
            source: Errno::EMSGSIZE,
        })
    }
}

/// The `virtio_net_hdr` of a GSO frame of `len` bytes in all whose headers
/// (Ethernet, IPv4 or IPv6 without extension headers, TCP) start `head`.
fn gso_vnet_hdr(head: &[u8], len: usize, gso_size: u16) -> Result<[u8; VNET_HDR_LEN], Error> {
    let bad = || Error::Io {
        context: "queue_gso: not an Ethernet/IPv4/TCP or Ethernet/IPv6/TCP frame",
        source: Errno::EINVAL,
    };
    // IPv4, or IPv6 with TCP right after its fixed header (no
    // extension headers: the endpoint sends none).
    let v6 = head.get(12..14) == Some(&[0x86, 0xdd][..]);
    if v6 && head.get(14 + 6) != Some(&6) {
        return Err(bad());
    }
    let ihl = if v6 {
        40
    } else {
        usize::from(head.get(14).ok_or_else(bad)? & 0x0f) * 4
    };
    let doff = usize::from(head.get(14 + ihl + 12).ok_or_else(bad)? >> 4) * 4;
    let hdr_len = 14 + ihl + doff;
    if len > MAX_FRAME || hdr_len > head.len() {
        return Err(bad());
    }
    let cwr = head.get(14 + ihl + 13).is_some_and(|f| f & TCP_CWR != 0);
    Ok(vnet_hdr(
        VNET_NEEDS_CSUM,
        if v6 { VNET_GSO_TCPV6 } else { VNET_GSO_TCPV4 } | if cwr { VNET_GSO_ECN } else { 0 },
        hdr_len as u16,
        gso_size,
        (14 + ihl) as u16,
        16,
    ))
}

impl RawSocket {
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
    /// of `gso_size` bytes (GSO, `VIRTIO_NET_HDR_GSO_TCPV4`), or one
    /// IPv6/TCP frame without extension headers (`VIRTIO_NET_HDR_GSO_TCPV6`).
    /// The frame's IP header is the whole frame's (the kernel fixes length,
    /// id and checksum per segment); its TCP checksum field must hold the
    /// pseudo-header sum (folded, not inverted), as for any
    /// `CHECKSUM_PARTIAL` segment. Without GSO enabled, an error.
    pub fn queue_gso(&mut self, frame: &[u8], gso_size: u16) -> Result<(), Error> {
        if self.gso_fd.is_none() {
            return Err(Error::InvalidConfig("queue_gso without enable_gso"));
        }
        let h = gso_vnet_hdr(frame, frame.len(), gso_size)?;
        self.push_queued(frame, Some(h));
        Ok(())
    }

    /// Queues a copy of `frame` (a whole Ethernet frame) for the next
    /// [`flush`](Self::flush).
    pub fn queue(&mut self, frame: &[u8]) -> Result<(), Error> {
        check_len(
            frame.len(),
            "queue: a frame must be 14..=65549 bytes (Ethernet header included)",
        )?;
        // Through the PACKET_VNET_HDR socket: a header saying "nothing to do".
        let h = self.gso_fd.is_some().then_some([0u8; VNET_HDR_LEN]);
        self.push_queued(frame, h);
        Ok(())
    }

    fn push_queued(&mut self, frame: &[u8], vnet: Option<[u8; VNET_HDR_LEN]>) {
        self.tx_buf.extend_from_slice(frame);
        self.tx_ends.push(self.tx_buf.len());
        self.tx_vnet.push(vnet.unwrap_or_default());
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
        let vnet = self.gso_fd.is_some();
        // Taken out for the call (and put back, their capacity kept).
        let (mut buf, mut ends, mut hdrs) = (
            std::mem::take(&mut self.tx_buf),
            std::mem::take(&mut self.tx_ends),
            std::mem::take(&mut self.tx_vnet),
        );
        let mut frames: Vec<[&[u8]; 3]> = Vec::with_capacity(ends.len());
        let mut start = 0;
        for (&end, h) in ends.iter().zip(&hdrs) {
            let h: &[u8] = if vnet { h } else { &[] };
            frames.push([h, buf.get(start..end).unwrap_or(&[]), &[]]);
            start = end;
        }
        let res = self.send_parts(&frames, 0);
        drop(frames);
        buf.clear();
        ends.clear();
        hdrs.clear();
        (self.tx_buf, self.tx_ends, self.tx_vnet) = (buf, ends, hdrs);
        res
    }

    /// Sends `frames` now, from the caller's buffers (no copy in user
    /// space), after anything [`queue`](Self::queue)d before, which is
    /// flushed first: as [`flush`](Self::flush) for the waiting, the
    /// refused frames and the result. Each frame is its `head` followed by
    /// its `body` (the body may be empty); a frame with `gso_size` set is a
    /// GSO frame as for [`queue_gso`](Self::queue_gso), whose headers must
    /// all lie in `head`. A frame that is not well formed is refused on its
    /// own (counted in [`Stats::tx_refused`], kept for
    /// [`take_refused`](Self::take_refused)); the others are sent.
    pub fn send_frames(&mut self, frames: &[TxFrame<'_>]) -> Result<usize, Error> {
        if !self.tx_ends.is_empty() {
            self.flush()?;
        }
        let vnet = self.gso_fd.is_some();
        // Each frame's virtio_net_hdr, or `None` for one refused here.
        let hdrs: Vec<Option<[u8; VNET_HDR_LEN]>> = frames
            .iter()
            .map(|f| {
                let total = f.head.len() + f.body.len();
                let h = match f.gso_size {
                    0 => check_len(total, "send_frames: a frame must be 14..=65549 bytes")
                        .map(|()| [0u8; VNET_HDR_LEN]),
                    _ if !vnet => Err(Error::InvalidConfig("send_frames: GSO without enable_gso")),
                    g => gso_vnet_hdr(f.head, total, g),
                };
                h.map_err(|e| self.refused = Some(e)).ok()
            })
            .collect();
        let bad = hdrs.iter().filter(|h| h.is_none()).count();
        let parts: Vec<[&[u8]; 3]> = frames
            .iter()
            .zip(&hdrs)
            .filter_map(|(f, h)| {
                let h = h.as_ref()?;
                Some([if vnet { &h[..] } else { &[] }, f.head, f.body])
            })
            .collect();
        self.send_parts(&parts, bad)
    }

    /// Sends `frames` (each: virtio_net_hdr or nothing, head, body) and
    /// counts them in the stats; `bad` more were refused before they could
    /// be sent.
    fn send_parts(&mut self, frames: &[[&[u8]; 3]], bad: usize) -> Result<usize, Error> {
        let tx = Transmitter {
            fd: self.gso_fd.as_ref().unwrap_or(&self.fd).as_fd(),
            poll_fd: self.fd.as_fd(),
            ifindex: self.ifindex,
            ifname: &self.ifname,
        };
        let mut st = self.stats.get();
        let (sent, refused, mut result) = tx.send_all(frames, &mut st, &mut self.refused);
        let taken = sent - refused;
        if sent < frames.len() && result.is_ok() {
            result = Err(Error::io("sendmmsg made no progress", Errno::EIO));
        }
        st.tx_frames += taken as u64;
        st.tx_refused += (refused + bad) as u64;
        st.tx_dropped += (frames.len() - taken + bad) as u64;
        self.stats.set(st);
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
}

/// What `flush` sends through.
struct Transmitter<'a> {
    /// The socket frames go out on (the `PACKET_VNET_HDR` one with GSO).
    fd: BorrowedFd<'a>,
    /// The socket polled for room in the transmit queue.
    poll_fd: BorrowedFd<'a>,
    ifindex: u32,
    ifname: &'a str,
}

impl Transmitter<'_> {
    /// Sends `frames` in chunks of [`TX_CHUNK`], waiting for a full queue
    /// and skipping frames the kernel refuses (the last kept in `refused`).
    /// Returns (frames sent or skipped, of those skipped, the error that
    /// stopped it).
    fn send_all(
        &self,
        frames: &[[&[u8]; 3]],
        stats: &mut Stats,
        last_refused: &mut Option<Error>,
    ) -> (usize, usize, Result<(), Error>) {
        let mut sent = 0usize;
        let mut refused = 0usize;
        let mut deadline: Option<Instant> = None;
        // Bounded: every pass either sends something or waits, and the waits
        // end at the deadline.
        for _ in 0..1_000_000 {
            if sent >= frames.len() {
                break;
            }
            let chunk = &frames[sent..frames.len().min(sent + TX_CHUNK)];
            match sys::send_frames(self.fd, self.ifindex, chunk) {
                Ok(0) | Err(Errno::EINTR) => {}
                Ok(n) => {
                    sent += n;
                    deadline = None;
                }
                Err(e @ (Errno::ENOBUFS | Errno::EAGAIN)) => {
                    if let Err(err) = self.wait_for_room(e, &mut deadline, stats) {
                        return (sent, refused, Err(err));
                    }
                }
                Err(Errno::ENETDOWN | Errno::ENXIO | Errno::ENODEV) => {
                    return (
                        sent,
                        refused,
                        Err(Error::InterfaceDown(self.ifname.to_owned())),
                    );
                }
                Err(e @ (Errno::EPERM | Errno::EACCES)) => {
                    return (
                        sent,
                        refused,
                        Err(Error::io("sendmmsg on the packet socket", e)),
                    );
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
                    *last_refused = Some(Error::Io { context, source: e });
                    refused += 1;
                    sent += 1;
                    deadline = None;
                }
            }
        }
        (sent, refused, Ok(()))
    }

    /// The transmit queue is full (`e`): waits a little for room, or gives
    /// up once it has been full for [`TX_RETRY_FOR`].
    fn wait_for_room(
        &self,
        e: Errno,
        deadline: &mut Option<Instant>,
        stats: &mut Stats,
    ) -> Result<(), Error> {
        let now = Instant::now();
        let d = *deadline.get_or_insert(now + TX_RETRY_FOR);
        if now >= d {
            return Err(Error::io(
                "sendmmsg: transmit queue full for 200 ms, frames dropped",
                e,
            ));
        }
        stats.tx_retries += 1;
        if e == Errno::EAGAIN {
            let mut fds = [PollFd::new(self.poll_fd, PollFlags::POLLOUT)];
            let _ = poll(&mut fds, PollTimeout::from(10u8));
        } else {
            // ENOBUFS (qdisc full) gives no poll readiness: back off.
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }
}
