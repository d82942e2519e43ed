//! The receive half: the reassembly buffer (RFC 9293 §3.10.7.4 seventh,
//! RFC 2018 SACK blocks; `rxbuf.rs`), taking a segment's text and FIN in
//! (§3.10.7.4 seventh and eighth; `text.rs`), the ACK policy (delayed ACK,
//! RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2; `ack.rs`, with
//! Linux's quick-ACK mode and measured segment size in `quickack.rs`),
//! D-SACK (RFC 2883; `dsack.rs`) and window advertisement (RFC 9293
//! §3.8.6, RFC 7323 §2.4; `ack.rs`), and the
//! application's reading with receiver-side silly window avoidance (RFC 9293
//! §3.8.6.2.2; here, [`State::consume`], and for every ACK `sws.rs`).

pub(crate) mod ack;
pub(crate) mod dsack;
pub(crate) mod quickack;
mod rxbuf;
mod sws;
pub(crate) mod text;

pub use rxbuf::{Insert, RecvBuffer, RecvRanges, MAX_RANGES};

pub(crate) use rxbuf::valid_size;

use crate::conn::recv::ack::AckOwed;
use crate::conn::{Config, RecvHalf, State, Tcb};
use crate::seq::SeqNum;

impl State {
    /// The application consumed `n` more in-order bytes. The window opens;
    /// when it had shrunk to less than half of what it can now be, and
    /// grows by at least one MSS (or half the buffer), a window update is
    /// owed (RFC 9293 §3.8.6.2.2, receiver-side silly window avoidance):
    /// returns whether it is, and [`State::poll_transmit`] sends it (with
    /// the SACK blocks of the receive ranges while they hold out-of-order
    /// data, RFC 2018 §4).
    pub fn consume(&mut self, n: u32, cfg: &Config) -> bool {
        fn advance(read: &mut SeqNum, end: SeqNum, n: u32) {
            *read = (*read + n).min(end);
        }
        fn update(tcb: &mut Tcb, rcv: &mut RecvHalf, n: u32, cfg: &Config) -> bool {
            advance(&mut rcv.read, rcv.nxt, n);
            let cur = rcv.adv_right - rcv.nxt;
            // What an ACK would offer now: nothing new in the silly-window
            // zone (`sws.rs`), so no update is owed there.
            let new = sws::window(rcv).min(0xffff << rcv.wscale);
            let step = u32::from(cfg.mss).min(rcv.cap / 2);
            let open = new >= cur.saturating_add(step) && new >= 2 * cur;
            if open {
                tcb.owe(AckOwed::Now);
            }
            open
        }
        match self {
            State::SynReceived(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt, n);
                false
            }
            State::Established(s) | State::FinWait1(s) => update(&mut s.tcb, &mut s.rcv, n, cfg),
            State::FinWait2(s) => update(&mut s.tcb, &mut s.rcv, n, cfg),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt - 1, n);
                false
            }
            State::TimeWait(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt - 1, n);
                false
            }
            State::SynSent(_) | State::Closed(_) => false,
        }
    }
}
