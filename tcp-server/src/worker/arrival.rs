//! The time a frame is handled at: when it arrived, by the kernel's stamp,
//! not when the loop got to it ([`Arrivals`]).

use std::time::{Duration, SystemTime};

use tcpcore::Instant;

/// A stamp older than this is not believed (the wall clock stepped, or the
/// kernel gave none): the frame is handled at the time it is read.
const MAX_AGE: Duration = Duration::from_millis(100);

/// Gives each frame, and the timers and sends between frames, the time
/// the frame arrived rather than the time it is read.
///
/// A user-space stack shares its CPU: on a busy machine the loop is off
/// the CPU for milliseconds at a time, and the ring fills meanwhile. Were
/// the ACKs in it handled at the time they are read, every segment sent
/// before them would look milliseconds late: RACK (RFC 8985 §6.2) would
/// take segments ACKed by frames still in the ring for lost, and a timer
/// would fire before the ACKs that cancel it are read. A bench-e2e capture
/// of the reordering path (2026-12-06) showed 94 % of 14,753 resends of
/// one download were of data cumulatively ACKed on the wire at least 1 ms
/// before they went. The kernel's TCP handles each ACK in the softirq it
/// arrives in; this gives ours the same view: a frame is handled at its
/// arrival, and while the ring holds more, time stands at the last frame
/// handled: timers run in the order of the frames (see [`Arrivals::now`]).
pub(crate) struct Arrivals {
    /// The last time given out: time never runs backwards for the endpoint.
    last: Instant,
    /// (wall clock, loop clock) read together at the start of the batch.
    base: Option<(SystemTime, Instant)>,
}

impl Arrivals {
    pub(crate) fn new(now: Instant) -> Arrivals {
        Arrivals {
            last: now,
            base: None,
        }
    }

    /// The time for what the loop does between batches (timers, sends):
    /// `wall` (the loop's clock now) when the ring is empty, else (`more`)
    /// the arrival of the last frame handled: what is still in the ring
    /// came later, and a timer run before it is read would run on what
    /// those frames have made stale (a loop taken off the CPU between two
    /// batches comes back to a ring of ACKs and to a timer that is due).
    pub(crate) fn now(&mut self, wall: Instant, more: bool) -> Instant {
        if !more {
            self.last = self.last.max(wall);
        }
        self.last
    }

    /// A batch starts: reads the two clocks together, to map the kernel's
    /// stamps (wall clock) to the loop's clock.
    pub(crate) fn start_batch(&mut self, wall: Instant) {
        self.base = Some((SystemTime::now(), wall));
    }

    /// The time to handle a frame stamped `stamp` at, read at `wall`: its
    /// arrival on the loop's clock, but never before the last time given
    /// out nor after `wall`; `wall` for a stamp in the future or older
    /// than [`MAX_AGE`].
    pub(crate) fn frame(&mut self, stamp: SystemTime, wall: Instant) -> Instant {
        let at = self.base.and_then(|(real0, mono0)| {
            // The stamp's distance from the batch's start, either way.
            let t = match stamp.duration_since(real0) {
                Ok(after) => mono0 + dur(after),
                Err(e) => {
                    let before = e.duration();
                    if before > MAX_AGE {
                        return None;
                    }
                    Instant::from_micros(mono0.as_micros().saturating_sub(micros(before)))
                }
            };
            (t <= wall).then_some(t)
        });
        self.last = self.last.max(at.unwrap_or(wall));
        self.last
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn dur(d: Duration) -> tcpcore::Duration {
    tcpcore::Duration::from_micros(micros(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(t: u64) -> Instant {
        Instant::from_micros(t)
    }

    #[test]
    fn frames_are_handled_at_their_arrival() {
        let mut a = Arrivals::new(us(1_000));
        a.start_batch(us(10_000));
        let real0 = a.base.unwrap().0;
        // Arrived 3 ms before the batch started: handled at 7,000.
        let t = a.frame(real0 - Duration::from_millis(3), us(10_001));
        assert_eq!(t, us(7_000));
        // An earlier stamp after it: time does not run backwards.
        assert_eq!(
            a.frame(real0 - Duration::from_millis(4), us(10_002)),
            us(7_000)
        );
        // Arrived during the batch, 5 µs in, read at 10,008.
        assert_eq!(
            a.frame(real0 + Duration::from_micros(5), us(10_008)),
            us(10_005)
        );
        // Stamped after it was read (clocks not quite together): the read.
        assert_eq!(
            a.frame(real0 + Duration::from_micros(50), us(10_009)),
            us(10_009)
        );
        // A stamp far in the past (the wall clock stepped): the read.
        assert_eq!(
            a.frame(real0 - Duration::from_secs(5), us(10_010)),
            us(10_010)
        );
    }

    #[test]
    fn time_stands_at_the_last_frame_while_the_ring_holds_more() {
        let mut a = Arrivals::new(us(0));
        a.start_batch(us(10_000));
        let real0 = a.base.unwrap().0;
        a.frame(real0 - Duration::from_millis(2), us(10_000));
        // Frames wait in the ring: the timers run at 8,000, not at the
        // wall clock.
        assert_eq!(a.now(us(10_100), true), us(8_000));
        // The ring emptied: the wall clock again.
        a.start_batch(us(10_200));
        a.frame(real0 - Duration::from_millis(1), us(10_200));
        assert_eq!(a.now(us(10_300), false), us(10_300));
        // Never backwards.
        assert_eq!(a.now(us(10_250), false), us(10_300));
    }
}
