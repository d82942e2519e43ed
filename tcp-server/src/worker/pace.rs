//! Waiting on the ring: spin for the next frame of a request/reply
//! exchange, nap while a stream comes in ([`Pace`] tells which).

use crate::link::Link;
use tcpcore::Instant;

/// Waiting on an empty ring: spin this long before sleeping in `poll`; a
/// peer's next frame (a request after a reply, the ACK of a handshake)
/// usually comes within it.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);
/// Waiting while a stream comes in ([`Pace`]): spin this long, then nap
/// [`NAP`] at a time for up to [`NAP_FOR`] before `poll`. A sender that
/// keeps us busy is slowed by our spinning where it runs on a sibling
/// hardware thread, and by waking us for every frame if we sleep in `poll`
/// (see `RawSocket::set_nap`); between naps the frames gather in the ring.
const NAP_SPIN: std::time::Duration = std::time::Duration::from_micros(2);
/// See [`NAP_SPIN`].
const NAP: std::time::Duration = std::time::Duration::from_micros(10);
/// See [`NAP_SPIN`].
const NAP_FOR: std::time::Duration = std::time::Duration::from_millis(1);
/// A stream comes in while frames bring at least this many bytes per
/// [`STREAM_WINDOW`] (64 KiB per ms, about 0.5 Gbit/s): a bulk transfer or
/// echo, not requests, replies or handshakes, whose next frame the spin
/// catches sooner.
const STREAM_BYTES: usize = 64 * 1024;
/// See [`STREAM_BYTES`].
const STREAM_WINDOW: tcpcore::Duration = tcpcore::Duration::from_millis(1);

/// Tells from the bytes of frames taken whether a stream comes in (see
/// [`STREAM_BYTES`]).
pub(super) struct Pace {
    start: Instant,
    bytes: usize,
    pub(super) streaming: bool,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Pace {
        Pace {
            start: now,
            bytes: 0,
            streaming: false,
        }
    }

    /// Counts `bytes` taken at `now`; whether a stream comes in. It starts
    /// as soon as a window holds [`STREAM_BYTES`], and ends with the first
    /// window that holds fewer, or after a window with nothing.
    pub(super) fn update(&mut self, now: Instant, bytes: usize) -> bool {
        let gone = now - self.start;
        if gone >= STREAM_WINDOW {
            // A quiet window in between: this frame starts afresh.
            let last = if gone >= STREAM_WINDOW + STREAM_WINDOW {
                0
            } else {
                self.bytes
            };
            self.streaming = last >= STREAM_BYTES;
            self.start = now;
            self.bytes = 0;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes >= STREAM_BYTES {
            self.streaming = true;
        }
        self.streaming
    }

    /// Sets how `sock` waits on an empty ring: nap while a stream comes in,
    /// spin otherwise (see [`NAP_SPIN`]).
    pub(super) fn set_waiting(&self, sock: &mut Link) {
        if self.streaming {
            sock.set_spin(NAP_SPIN);
            sock.set_nap(NAP, NAP_FOR);
        } else {
            sock.set_spin(SPIN);
            sock.set_nap(std::time::Duration::ZERO, std::time::Duration::ZERO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Pace, STREAM_BYTES};
    use tcpcore::Instant;

    /// `Pace` fed `bytes` every `every_us` µs for `for_us` µs from `t`:
    /// whether it ever said "stream", its last answer, and the time after.
    fn feed(p: &mut Pace, t: u64, bytes: usize, every_us: u64, for_us: u64) -> (bool, bool, u64) {
        let (mut now, mut ever, mut last) = (t, false, false);
        while now < t + for_us {
            last = p.update(Instant::from_micros(now), bytes);
            ever |= last;
            now += every_us;
        }
        (ever, last, now)
    }

    #[test]
    fn streams_are_told_from_requests() {
        let mut p = Pace::new(Instant::from_micros(0));
        // 64-byte requests every 20 µs (an echo ping-pong): never a stream.
        let (ever, _, t) = feed(&mut p, 0, 64 + 66, 20, 10_000);
        assert!(!ever);
        // 1514-byte frames every µs (about 12 Gbit/s): a stream within the
        // first window, and on.
        let (_, last, t) = feed(&mut p, t, 1514, 1, 5_000);
        assert!(last);
        // Quiet for 2 ms, then one small frame: no longer.
        assert!(!p.update(Instant::from_micros(t + 2_000), 100));
        // One 64 KiB GRO frame makes one at once.
        assert!(p.update(Instant::from_micros(t + 2_100), STREAM_BYTES));
    }
}
