//! [`Link`]: what a worker (or the client) reads frames from and writes
//! them to: an AF_PACKET [`RawSocket`] (whole Ethernet frames, the
//! endpoint on `Medium::Ethernet`), or a [`TunDevice`] (`--tun`: bare IPv4
//! packets, the endpoint on `Medium::Ip`).
//!
//! An enum rather than a generic: the loop is the same code for both, and
//! the AF_PACKET path pays one predictable branch per call (per batch
//! received, per frame queued), nothing per byte.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use rawnet::{Error, RawSocket, RxMeta, TunDevice, TxFrame};

/// A raw socket or a TUN device.
// One per worker, made once: the size does not matter, and the raw socket
// (the fast path) stays inline rather than behind a box.
#[allow(clippy::large_enum_variant)]
pub enum Link {
    /// AF_PACKET: Ethernet frames.
    Raw(RawSocket),
    /// A TUN device: bare IP packets. No GSO; each packet is written at
    /// once (one `write` each), so [`Link::flush`] has nothing to do.
    Tun(TunDevice),
}

impl Link {
    /// Whether frames are bare IP packets (the endpoint's `Medium::Ip`).
    pub fn is_ip(&self) -> bool {
        matches!(self, Link::Tun(_))
    }

    /// Waits up to `timeout` for frames and hands each to `f` (see
    /// [`RawSocket::recv_batch`], [`TunDevice::recv_batch`]).
    #[inline]
    pub fn recv_batch<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        timeout: Option<Duration>,
        f: F,
    ) -> Result<usize, Error> {
        match self {
            Link::Raw(s) => s.recv_batch(timeout, f),
            Link::Tun(t) => t.recv_batch(timeout, f),
        }
    }

    /// Queues one frame (a TUN device writes it now; a packet the kernel
    /// has no room for is dropped, as on a full queue, and TCP resends it).
    #[inline]
    pub fn queue(&mut self, frame: &[u8]) -> Result<(), Error> {
        match self {
            Link::Raw(s) => s.queue(frame),
            Link::Tun(t) => t.send_batch(&[frame]).map(|_| ()),
        }
    }

    /// Queues one GSO frame; never asked of a TUN device ([`Link::gso`] is
    /// false there), which would send it as it is.
    #[inline]
    pub fn queue_gso(&mut self, frame: &[u8], gso_size: u16) -> Result<(), Error> {
        match self {
            Link::Raw(s) => s.queue_gso(frame, gso_size),
            Link::Tun(t) => t.send_batch(&[frame]).map(|_| ()),
        }
    }

    /// Sends `frames` now from the caller's buffers, after anything queued
    /// (see [`RawSocket::send_frames`]); a TUN device writes each packet,
    /// as [`Link::queue_parts`] does, and stops at the first error.
    pub fn send_frames(&mut self, frames: &[TxFrame<'_>]) -> Result<usize, Error> {
        if let Link::Raw(s) = self {
            return s.send_frames(frames);
        }
        for f in frames {
            self.queue_parts(f.head, f.body)?;
        }
        Ok(frames.len())
    }

    /// Queues one frame given in two parts, `head` then `body`, as
    /// [`Link::queue`] does. A TUN device's frames are whole (it takes no
    /// GSO frames, the only ones sent in two parts), so nothing is copied
    /// there; the raw socket copies the two into its queue.
    pub fn queue_parts(&mut self, head: &[u8], body: &[u8]) -> Result<(), Error> {
        if body.is_empty() {
            self.queue(head)
        } else {
            self.queue(&[head, body].concat())
        }
    }

    /// Sends what is queued.
    #[inline]
    pub fn flush(&mut self) -> Result<usize, Error> {
        match self {
            Link::Raw(s) => s.flush(),
            Link::Tun(_) => Ok(0),
        }
    }

    /// The last frame the kernel refused since the last call, if any.
    pub fn take_refused(&mut self) -> Option<Error> {
        match self {
            Link::Raw(s) => s.take_refused(),
            Link::Tun(t) => t.take_refused(),
        }
    }

    /// How long to spin on an empty ring before sleeping (raw socket only).
    pub fn set_spin(&mut self, spin: Duration) {
        if let Link::Raw(s) = self {
            s.set_spin(spin);
        }
    }

    /// Whether frames wait to be received (raw socket only: a TUN device
    /// says false).
    pub fn has_frames(&self) -> bool {
        match self {
            Link::Raw(s) => s.has_frames(),
            Link::Tun(_) => false,
        }
    }

    /// At most `max` frames per `recv_batch` (raw socket only; a TUN
    /// device reads at most `rawnet::tun::RX_BATCH` anyway).
    pub fn set_batch_max(&mut self, max: usize) {
        if let Link::Raw(s) = self {
            s.set_batch_max(max);
        }
    }

    /// Whether the link takes GSO frames (never a TUN device, for now).
    pub fn gso(&self) -> bool {
        match self {
            Link::Raw(s) => s.gso(),
            Link::Tun(_) => false,
        }
    }

    /// The counters, as a raw socket's (a TUN device's packets read and
    /// written, truncated and refused; it has no ring to drop from).
    pub fn stats(&self) -> Result<rawnet::Stats, Error> {
        match self {
            Link::Raw(s) => s.stats(),
            Link::Tun(t) => {
                let s = t.stats();
                Ok(rawnet::Stats {
                    packets: s.rx_packets,
                    rx_frames: s.rx_packets,
                    truncated: s.rx_truncated,
                    tx_frames: s.tx_packets,
                    tx_dropped: s.tx_refused,
                    tx_refused: s.tx_refused,
                    ..rawnet::Stats::default()
                })
            }
        }
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Link::Raw(s) => s.as_fd(),
            Link::Tun(t) => t.as_fd(),
        }
    }
}
