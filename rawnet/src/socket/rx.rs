//! The receive side of a [`RawSocket`]: waiting for the ring (spin, naps,
//! `poll`) and walking it, a TPACKET_V2 slot or a TPACKET_V3 block at a
//! time, frames larger than a V2 slot read whole from the socket.

use std::os::fd::AsFd;
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{getsockopt, sockopt};

use super::{CsumStatus, RawSocket, RingVersion, RxMeta, Stats};
use crate::{sys, Error};

/// `TP_STATUS_COPY`: the frame did not fit its TPACKET_V2 slot and was also
/// queued on the socket whole, to be read with `recv`.
pub(super) const TP_STATUS_COPY: u32 = 1 << 1;
/// `TP_STATUS_CSUMNOTREADY`.
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// `TP_STATUS_CSUM_VALID`.
const TP_STATUS_CSUM_VALID: u32 = 1 << 7;
/// Size of `struct tpacket3_hdr`.
const TPACKET3_HDR_LEN: usize = 48;

impl RawSocket {
    /// Watch the ring for up to `spin` before sleeping in `ppoll` when it is
    /// empty (default: zero, sleep at once). The kernel wakes a sleeping
    /// reader once per frame with a V2 ring; a short spin lets a busy
    /// receiver take frames in batches instead, at the cost of CPU time
    /// while traffic pauses.
    pub fn set_spin(&mut self, spin: Duration) {
        self.spin = spin;
    }

    /// After the spin, sleep `nap` at a time (`nanosleep`, not `poll`), for
    /// up to `nap_for` in all, looking at the ring after each nap, before
    /// sleeping in `ppoll` (zero for either: no naps, the default).
    ///
    /// For a receiver that keeps up with a fast sender: spinning keeps this
    /// CPU busy, which slows a sender on a sibling hardware thread (measured
    /// on a 2-vCPU VM: a busy loop on the other CPU took a Linux-to-Linux
    /// 1 GiB upload from about 28 to 18.5 Gbit/s), and sleeping in `ppoll`
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

    /// Hands over at most `max` frames per [`RawSocket::recv_batch`] (with
    /// TPACKET_V3, the frames of whole blocks until `max` is reached; 0,
    /// the default: every frame of one pass over the ring).
    ///
    /// What a caller writes while it handles a batch leaves only when it
    /// sends after the batch: a pass over a full ring (8,192 frames for
    /// 16 MiB) can keep the frames written for its first ACKs back for
    /// milliseconds. Linux hands a NAPI poll at most 64 frames
    /// (`NAPI_POLL_WEIGHT`) and sends from the ACK's processing itself.
    pub fn set_batch_max(&mut self, max: usize) {
        self.batch_max = max;
    }

    /// Whether the ring holds a frame not yet handed over (a look at one
    /// slot's status, no system call).
    pub fn has_frames(&self) -> bool {
        self.ring.unit(self.next).is_some()
    }

    /// Waits up to `timeout` (`None`: forever) for received frames, then
    /// calls `f` for each frame available (a batch, zero-copy from the ring;
    /// at most one pass over the ring) and returns how many. Returns `Ok(0)`
    /// on timeout, and also when a signal interrupted the wait (at most
    /// [`RawSocket::set_batch_max`] frames, when set). A timeout no
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
            self.watch_ring(timeout, naps);
        }
        if self.ring.unit(self.next).is_none() && !no_poll {
            self.poll_ring(timeout)?;
        }
        Ok(self.drain_ring(&mut f))
    }

    /// Watches the empty ring: spins for up to the spin, then (with `naps`)
    /// naps for up to `nap_for`, never past `timeout`.
    fn watch_ring(&mut self, timeout: Option<Duration>, naps: bool) {
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

    /// Sleeps until the ring has something or `timeout` passes (to the
    /// microsecond, `sys::wait_readable`); reports a pending socket error.
    fn poll_ring(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let revents = match sys::wait_readable(self.fd.as_fd(), timeout) {
            Ok(r) => r,
            Err(Errno::EINTR) => PollFlags::empty(),
            Err(e) => return Err(Error::io("poll on the packet socket", e)),
        };
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
        Ok(())
    }

    /// One pass over the ring: hands every ready frame to `f`, releases
    /// its unit, and returns how many frames there were.
    fn drain_ring<F: FnMut(&[u8], &RxMeta)>(&mut self, f: &mut F) -> usize {
        let mut count = 0usize;
        let mut stats = self.stats.get();
        let units = self.ring.unit_nr();
        let max = if self.batch_max == 0 {
            usize::MAX
        } else {
            self.batch_max
        };
        match self.version {
            RingVersion::V3 => {
                for _ in 0..units {
                    if count >= max {
                        break;
                    }
                    let Some(block) = self.ring.unit(self.next) else {
                        break;
                    };
                    count += walk_block(block, &mut stats, f);
                    self.ring.release(self.next);
                    self.next = (self.next + 1) % units;
                }
            }
            RingVersion::V2 => {
                let fd = self.fd.as_fd();
                let mut copy = |buf: &mut [u8]| sys::recv_frame(fd, buf).ok();
                for _ in 0..units.min(max) {
                    let Some(slot) = self.ring.unit(self.next) else {
                        break;
                    };
                    count += take_slot(slot, &mut self.copy_buf, &mut copy, &mut stats, f);
                    self.ring.release(self.next);
                    self.next = (self.next + 1) % units;
                }
                count += self.grow(count, f, &mut stats);
            }
        }
        self.stats.set(stats);
        count
    }
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
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
pub(super) fn take_slot<F: FnMut(&[u8], &RxMeta)>(
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
    use super::super::V2_MAC_OFF;
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
}
