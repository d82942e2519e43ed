//! ACK coalescing in the worker's loop: with batching on, the endpoint
//! holds back the ACKs of a batch of frames; [`AckHold`] decides when they
//! go out (by bytes seen or time held), so that a fast sender gets stretch
//! ACKs as from a Linux receiver instead of one per ring pass.

use tcpcore::{Endpoint, Instant};

use super::server_io::ServerIo;

/// ACK coalescing: the ACKs held back by batching go out once this many
/// bytes of frames arrived since the first was held...
const ACK_COALESCE_BYTES: usize = 32 * 1024;
/// ... or this long after the first was held, or as soon as the ring stays
/// empty for that long: at most one ACK per connection per 32 KiB of
/// segments, as a Linux receiver sends under load (its stretch ACKs), instead
/// of one per ring pass, which costs the sender an ACK to process every few
/// segments when the server keeps up with it.
const ACK_COALESCE_HOLD: std::time::Duration = std::time::Duration::from_micros(50);

/// Since when ACKs are held, and the bytes of frames seen since.
#[derive(Default)]
pub(super) struct AckHold {
    held: Option<(Instant, usize)>,
}

impl AckHold {
    /// `wait` shortened, while ACKs are held, to the rest of the hold (a
    /// spin on the ring, no system call).
    pub(super) fn limit_wait(
        &self,
        now: Instant,
        wait: std::time::Duration,
    ) -> std::time::Duration {
        match self.held {
            Some((since, _)) => {
                let gone = std::time::Duration::from_micros((now - since).as_micros());
                wait.min(ACK_COALESCE_HOLD.saturating_sub(gone))
            }
            None => wait,
        }
    }

    /// After a batch of `got` frames (`bytes` long): one ACK per connection
    /// for the frames of a while (see [`ACK_COALESCE_BYTES`]); all held ACKs
    /// go out at once when the ring was empty or the run is `closing`.
    pub(super) fn after_batch(
        &mut self,
        endpoint: &mut Endpoint<'_>,
        sio: &mut ServerIo<'_>,
        now: Instant,
        (got, bytes): (usize, usize),
        closing: bool,
    ) {
        if endpoint.acks_held() == 0 {
            self.held = None;
            return;
        }
        let (since, seen) = self.held.get_or_insert((now, 0));
        *seen += bytes;
        let gone = std::time::Duration::from_micros((now - *since).as_micros());
        if got == 0 || *seen >= ACK_COALESCE_BYTES || gone >= ACK_COALESCE_HOLD || closing {
            endpoint.flush_acks(sio);
            self.held = None;
        }
    }
}
