//! The receive half: the reassembly buffer (RFC 9293 §3.10.7.4 seventh,
//! RFC 2018 SACK blocks; `rxbuf.rs`), taking a segment's text and FIN in
//! (§3.10.7.4 seventh and eighth; `text.rs`), the ACK policy (delayed ACK,
//! RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2) and window
//! advertisement (RFC 9293 §3.8.6, RFC 7323 §2.4; `ack.rs`), and the
//! application's reading with receiver-side silly window avoidance (RFC 9293
//! §3.8.6.2.2; here, [`State::consume`]).

pub(crate) mod ack;
mod rxbuf;
pub(crate) mod text;

pub use rxbuf::{Insert, RecvBuffer, RecvRanges, MAX_RANGES};

pub(crate) use rxbuf::valid_size;

use crate::conn::recv::ack::{advertise, make_ack_closed, sack_for};
use crate::conn::Timer;
use crate::conn::{Config, RecvClosed, RecvHalf, Reply, State, Tcb};
use crate::seq::SeqNum;
use crate::time::Instant;

impl State {
    /// The application consumed `n` more in-order bytes. The window opens;
    /// when it had shrunk to less than half of what it can now be, and
    /// grows by at least one MSS (or half the buffer), a window update is
    /// sent (RFC 9293 §3.8.6.2.2, receiver-side silly window avoidance),
    /// with the SACK blocks of `rx`, the connection's receive ranges, while
    /// it holds out-of-order data (RFC 2018 §4).
    pub fn consume(
        &mut self,
        n: u32,
        now: Instant,
        cfg: &Config,
        rx: &RecvRanges,
    ) -> Option<Reply> {
        fn advance(read: &mut SeqNum, end: SeqNum, n: u32) {
            *read = (*read + n).min(end);
        }
        fn update(
            tcb: &mut Tcb,
            snd_nxt: SeqNum,
            rcv: &mut RecvHalf,
            n: u32,
            now: Instant,
            cfg: &Config,
            rx: &RecvRanges,
        ) -> Option<Reply> {
            advance(&mut rcv.read, rcv.nxt, n);
            let cur = rcv.adv_right - rcv.nxt;
            let new = ((rcv.read + rcv.cap) - rcv.nxt).min(0xffff << rcv.wscale);
            let step = u32::from(cfg.mss).min(rcv.cap / 2);
            if new >= cur.saturating_add(step) && new >= 2 * cur {
                let window = advertise(rcv);
                let mut r = make_ack_closed(
                    tcb,
                    snd_nxt,
                    &RecvClosed {
                        nxt: rcv.nxt,
                        window,
                        read: rcv.read,
                        right: rcv.adv_right,
                    },
                    now,
                );
                r.options.sack_blocks = sack_for(tcb, rx);
                rcv.unacked = 0;
                tcb.timers.clear(Timer::DelayedAck);
                Some(r)
            } else {
                None
            }
        }
        match self {
            State::SynReceived(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt, n);
                None
            }
            State::Established(s) | State::FinWait1(s) => {
                update(&mut s.tcb, s.snd.nxt, &mut s.rcv, n, now, cfg, rx)
            }
            State::FinWait2(s) => update(&mut s.tcb, s.snd.nxt, &mut s.rcv, n, now, cfg, rx),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt - 1, n);
                None
            }
            State::TimeWait(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt - 1, n);
                None
            }
            State::SynSent(_) | State::Closed(_) => None,
        }
    }

    /// The window field to put in a segment about to be sent, computed
    /// afresh (after the application consumed data); records the right edge
    /// it advertises. `None` where the receive half is gone.
    pub fn readvertise(&mut self) -> Option<u16> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(advertise(&mut s.rcv)),
            State::FinWait2(s) => Some(advertise(&mut s.rcv)),
            _ => None,
        }
    }
}
