//! A TPACKET_V2 receive ring that grows once, under load, without losing or
//! repeating a frame ([`SocketConfig::ring_start_bytes`]).
//!
//! The kernel maps every page of a packet ring when it is mapped
//! (`packet_mmap` inserts them all), so a ring's size is resident memory
//! from the start: 16 MiB for a socket that may never see a burst. A socket
//! can start with a small ring and, the first time a pass over it finds it
//! at least three quarters full, move to a larger one:
//!
//! 1. A second socket with the larger ring, the same filter and settings,
//!    is bound to the interface: from now on every frame reaches both
//!    (the newer socket first: `dev_add_pack` puts it at the head of the
//!    interface's list of taps).
//! 2. The old socket's filter is replaced by one that drops everything: no
//!    new frame reaches it.
//! 3. The old ring is drained, each frame handed out as usual and its
//!    fingerprint kept.
//! 4. The new ring's first frames that the old one also had (the end of
//!    the fingerprints, in the same order) are released without being
//!    handed out; the old socket is closed (on a thread of its own:
//!    closing waits for an RCU grace period).
//!
//! The kernel itself offers no way to enlarge a ring in place without
//! losing frames: `packet_set_ring` refuses while the ring is mapped, and
//! between unmapping and the new ring the socket is unhooked
//! (`synchronize_net`), so every frame of that window would be dropped.
//!
//! A socket in a fanout group does not grow: a second member would take a
//! share of the group's flows.

use std::hash::{DefaultHasher, Hasher};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::rx::{take_slot, TP_STATUS_COPY};
use super::{
    bind_and_join, open_socket, ring_layout, set_filter_and_buffers, set_ring_version, RawSocket,
    RingVersion, RxMeta, SocketConfig, Stats,
};
use crate::bpf::Insn;
use crate::sys::{self, Ring};
use crate::{Error, Interface};

/// The size `cfg`'s ring grows to, or 0 if it never grows (it is
/// `ring_bytes` from the start).
pub(super) fn grow_to(cfg: &SocketConfig) -> usize {
    let grows = cfg.ring == RingVersion::V2 && cfg.fanout.is_none();
    if grows && cfg.ring_start_bytes > 0 && cfg.ring_start_bytes < cfg.ring_bytes {
        cfg.ring_bytes
    } else {
        0
    }
}

/// Frames waiting at the start of a pass that make a ring of `units` slots
/// grow: three quarters of it. A ring is a large share of the cache, and
/// the kernel touches it on the sender's CPU (`tpacket_rcv` copies each
/// frame into its slot and, `__packet_rcv_has_room`, reads the status of
/// the slot a quarter of the ring ahead): measured on a 2-vCPU AMD EPYC
/// (`perf record -a -g` over a 4 GiB upload, offloads off), the sender's
/// share of its CPU in `tpacket_rcv` was 36 % with a 16 MiB ring and 24 %
/// with a 2 MiB one (two runs each); in 7 alternating pairs of servers
/// growing at half and at three quarters, medians 34 % and 29 % (the rates
/// did not tell them apart). At half, one connection with a 1 MiB window
/// (724 full frames at MTU 1500) could grow the 1024-slot start ring after
/// a stall of the reader; at three quarters (768) it cannot.
fn grows_at(units: usize) -> usize {
    (units - units / 4).max(1)
}

/// A classic BPF program that accepts nothing (`ret #0`).
const DROP_ALL: [Insn; 1] = [Insn {
    code: 0x06,
    jt: 0,
    jf: 0,
    k: 0,
}];

/// A frame's fingerprint: its wire length, whether it was copied (a frame
/// larger than a slot), and a hash of the bytes its slot holds. The two
/// rings have slots of one size, so a frame fills both alike.
fn fingerprint(slot: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    let word = |o: usize| {
        slot.get(o..o + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (status, len, snap) = (word(0), word(4), word(8));
    let mac = slot
        .get(12..14)
        .map_or(0, |b| usize::from(u16::from_ne_bytes([b[0], b[1]])));
    h.write_u32(status & TP_STATUS_COPY);
    h.write_u32(len);
    h.write(
        slot.get(mac..mac.saturating_add(snap as usize))
            .unwrap_or(&[]),
    );
    h.finish()
}

/// How many of the new ring's first frames (`new`, fingerprints in ring
/// order) the old ring also had (`old`, the fingerprints of everything
/// drained from it since the new socket was bound, in order): those up to
/// and including the old ring's last frame, at the place in `new` where
/// the most of the old ring's last frames match backwards (the first such
/// place: an identical frame, a repeated ACK, can occur twice). Frames the
/// old ring dropped in between are skipped too: lost, as they would have
/// been without the new ring. 0 if the old ring's last frame is not in
/// `new` (no frame reached both).
fn overlap(old: &[u64], new: &[u64]) -> usize {
    let matched = |p: usize| {
        (0..=p)
            .zip(old.iter().rev())
            .take_while(|&(j, o)| new[p - j] == *o)
            .count()
    };
    let mut best = (0, 0);
    for p in 0..new.len() {
        let m = matched(p);
        if m > best.0 {
            best = (m, p + 1);
        }
    }
    best.1
}

/// The larger ring, made by a helper thread ([`RawSocket::grow`]).
pub(super) type Pending = std::sync::mpsc::Receiver<Result<(OwnedFd, Ring), Error>>;

impl RawSocket {
    /// After a pass over the ring that took `count` frames: the first time
    /// a pass began with the ring at least three quarters full
    /// ([`grows_at`]), a helper thread starts to make the larger ring
    /// (allocating and mapping it takes milliseconds, in which this ring
    /// must still be read); at the end of a later pass, once it is ready,
    /// the socket moves to it as the module's comment says, handing the old
    /// ring's last frames to `f`. Returns how many. If the larger ring
    /// cannot be made (no memory for it, say), the socket keeps its ring
    /// and never tries again.
    pub(super) fn grow<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        count: usize,
        f: &mut F,
        stats: &mut Stats,
    ) -> usize {
        if self.grow_to == 0 {
            return 0;
        }
        let Some(pending) = &self.growing else {
            // Three quarters full when the pass began: it took that many,
            // or the slots it left hold the rest of them (the kernel fills
            // them in order from `next`; a pass may stop early, see
            // `RawSocket::set_batch_max`).
            let units = self.ring.unit_nr();
            let mark = grows_at(units);
            let full = count >= mark
                || self
                    .ring
                    .unit((self.next + (mark - count - 1)) % units)
                    .is_some();
            if full {
                self.growing = Some(self.prepare());
            }
            return 0;
        };
        let made = match pending.try_recv() {
            Err(std::sync::mpsc::TryRecvError::Empty) => return 0,
            Ok(Ok(made)) => Some(made),
            Ok(Err(_)) | Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
        };
        self.growing = None;
        self.grow_to = 0;
        match made {
            Some((fd, ring)) => self.move_to(fd, ring, f, stats),
            None => 0,
        }
    }

    /// Starts a helper thread that opens a socket like this one with a ring
    /// of `grow_to` bytes, not yet bound, in this socket's network
    /// namespace.
    fn prepare(&self) -> Pending {
        let (tx, rx) = std::sync::mpsc::channel();
        let cfg = SocketConfig {
            ring_bytes: self.grow_to,
            fanout: None,
            ..self.cfg
        };
        let iface = self.iface.clone();
        let netns = sys::socket_netns(self.fd.as_fd()).ok();
        // If no thread can be started, the receiver finds the sender gone:
        // no growth.
        let _ = std::thread::Builder::new()
            .name("rawnet-ring".into())
            .spawn(move || {
                // A socket lives in the namespace of the thread that makes
                // it: this one's, unless the socket was moved to a thread
                // of another namespace.
                if let Some(ns) = netns {
                    let same = std::fs::metadata("/proc/thread-self/ns/net")
                        .ok()
                        .zip(nix::sys::stat::fstat(ns.as_raw_fd()).ok())
                        .is_some_and(|(m, s)| std::os::unix::fs::MetadataExt::ino(&m) == s.st_ino);
                    if !same {
                        if let Err(e) = nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                        {
                            let _ = tx.send(Err(Error::io("setns for the larger ring", e)));
                            return;
                        }
                    }
                }
                let _ = tx.send(open_unbound(&iface, &cfg));
            });
        rx
    }

    /// Moves to the new socket `fd` with its `ring` (steps 1 to 4 of the
    /// module's comment).
    fn move_to<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        fd: OwnedFd,
        ring: Ring,
        f: &mut F,
        stats: &mut Stats,
    ) -> usize {
        if bind_and_join(fd.as_fd(), &self.iface, None).is_err() {
            return 0;
        }
        // Close the old socket to new frames; if that fails, keep it.
        if sys::attach_filter(self.fd.as_fd(), &DROP_ALL).is_err() {
            return 0;
        }
        // Drain it, noting every frame.
        let mut old = Vec::with_capacity(self.ring.unit_nr());
        let mut count = 0;
        let units = self.ring.unit_nr();
        let sock = self.fd.as_fd();
        let mut copy = |buf: &mut [u8]| sys::recv_frame(sock, buf).ok();
        for _ in 0..units {
            let Some(slot) = self.ring.unit(self.next) else {
                break;
            };
            old.push(fingerprint(slot));
            count += take_slot(slot, &mut self.copy_buf, &mut copy, stats, f);
            self.ring.release(self.next);
            self.next = (self.next + 1) % units;
        }
        // Its kernel counters, before it goes.
        if let Ok(k) = sys::packet_stats(self.fd.as_fd()) {
            stats.packets += u64::from(k.tp_packets);
            stats.drops += u64::from(k.tp_drops);
            stats.freeze_q_cnt += u64::from(k.tp_freeze_q_cnt);
        }
        // The new ring replaces it. The old one goes on a thread of its
        // own: closing a packet socket waits for an RCU grace period
        // (`packet_release`: `synchronize_net`), milliseconds in which
        // this thread reads the new ring. Its ring is unmapped before its
        // socket is closed.
        self.cfg.ring_bytes = ring.len();
        let old_ring = std::mem::replace(&mut self.ring, ring);
        let old_fd = std::mem::replace(&mut self.fd, fd);
        // If no thread can be started, the closure is dropped here, and
        // with it the old ring and socket.
        let _ = std::thread::Builder::new()
            .name("rawnet-close".into())
            .spawn(move || drop((old_ring, old_fd)));
        self.next = 0;
        // Frames both had: released, and a copied one's whole frame read
        // off the new socket's queue.
        let units = self.ring.unit_nr();
        let new: Vec<u64> = (0..units.min(2 * old.len() + 64))
            .map_while(|i| self.ring.unit(i).map(fingerprint))
            .collect();
        let skip = overlap(&old, &new);
        for _ in 0..skip {
            let copied = self
                .ring
                .unit(self.next)
                .and_then(|s| s.get(..4))
                .is_some_and(|w| {
                    u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) & TP_STATUS_COPY != 0
                });
            if copied {
                let _ = sys::recv_frame(self.fd.as_fd(), &mut self.copy_buf);
            }
            self.ring.release(self.next);
            self.next = (self.next + 1) % units;
        }
        stats.ring_grown += 1;
        stats.ring_dups_skipped += skip as u64;
        count
    }
}

/// A socket as [`RawSocket::open`] makes it, not yet bound to the
/// interface (it receives nothing): its descriptor and its mapped ring.
fn open_unbound(iface: &Interface, cfg: &SocketConfig) -> Result<(OwnedFd, Ring), Error> {
    let layout = ring_layout(iface, cfg)?;
    let fd = open_socket()?;
    let bfd = fd.as_fd();
    set_ring_version(bfd, cfg)?;
    set_filter_and_buffers(bfd, cfg)?;
    let ring = Ring::new(bfd, layout).map_err(|(what, e)| Error::io(what, e))?;
    Ok((fd, ring))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_finds_the_shared_frames() {
        // Nothing drained from the old ring, or nothing in the new one.
        assert_eq!(overlap(&[], &[1, 2]), 0);
        assert_eq!(overlap(&[1, 2], &[]), 0);
        // The old ring's last three frames are the new ring's first three.
        assert_eq!(overlap(&[7, 8, 1, 2, 3], &[1, 2, 3, 4, 5]), 3);
        // None shared.
        assert_eq!(overlap(&[7, 8], &[1, 2, 3]), 0);
        // The old ring dropped frame 2: skipped as well (lost, as it would
        // have been).
        assert_eq!(overlap(&[7, 1, 3], &[1, 2, 3, 4]), 3);
        // An identical frame (a repeated ACK) before the real match: the
        // frames before it decide.
        assert_eq!(overlap(&[5, 6, 9], &[9, 5, 6, 9, 4]), 4);
        // Everything the new ring has so far is shared.
        assert_eq!(overlap(&[1, 2, 3], &[1, 2, 3]), 3);
    }
}
