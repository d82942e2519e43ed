//! The send half's data path: the send buffer, segmentation, the
//! retransmission timer (RFC 6298), congestion control and loss recovery
//! (RFC 5681 slow start, congestion avoidance with RFC 3465 byte counting,
//! the restart window after idle, fast retransmit with RFC 3042 Limited
//! Transmit, NewReno fast recovery of RFC 6582, SACK-based recovery after
//! RFC 6675, with RACK's time-based loss detection of RFC 8985 §6), tail
//! loss probes (RFC 8985 §7), and the persist timer (RFC 9293 §3.8.6.1).
//!
//! Recovery and congestion control are explicit state, kept apart so that
//! each algorithm is a module of its own:
//! - [`Recovery`] is the loss-recovery mode: `Open`, `FastRecovery` (RFC
//!   6582 NewReno), `SackRecovery` (RFC 6675), `Loss` (after a timeout,
//!   RFC 5681 §3.1 / RFC 6582 §4); `recovery.rs` holds its transitions.
//!   In fast recovery, with or without SACK, cwnd is set on every ACK by
//!   Proportional Rate Reduction (RFC 6937, `prr.rs`, Linux
//!   `tcp_cwnd_reduction`); RFC 3042
//!   Limited Transmit, in the open state, is `limited.rs`. With SACK,
//!   RACK (RFC 8985 §6, `rack.rs`, Linux's default) marks the losses that
//!   start SACK-based recovery and are resent in it, by time: a segment is
//!   lost once one sent after it is delivered and it is not, a reordering
//!   window later (the reordering timer, [`Timer::RackReorder`], for
//!   those not yet past it); the tail loss probe (§7, `tlp.rs`) draws the
//!   ACK that lets it see a lost tail.
//! - [`Cc`] is the congestion-control algorithm behind the operations
//!   `on_ack`, `on_congestion_event`, `on_rto`, `restart_after_idle`,
//!   `cwnd`, `ssthresh`: CUBIC (RFC 9438, [`Cubic`], `cubic.rs`), the
//!   default, or [`NewReno`], as
//!   [`Config::congestion_control`](crate::Config::congestion_control)
//!   says; either with HyStart++ (RFC 9406, [`HyStart`], `hystart.rs`) in
//!   the first slow start.
//! - [`Undo`] (`undo.rs`) records each cwnd reduction (fast recovery, a
//!   timeout) and undoes it when timestamps (RFC 3522) or D-SACKs (RFC
//!   2883) show it spurious, as Linux's `tcp_try_undo_*`.
//!
//! The functions here work on the send half alone and are called by the
//! state machine (`conn::arrive`, `conn::timers`); none of them builds a
//! segment header. Their timers (retransmission, persist, silly-window
//! override, tail loss probe) are slots of the connection's
//! [`TimerTable`](crate::conn::TimerTable).
//!
//! | RFC | file | functions |
//! |-----|------|-----------|
//! | RFC 9293 §3.3.1, the send buffer; §3.9.1 PUSH at write ends | `ring.rs` | [`ring_write`], [`ring_read`], [`ring_room`], [`WriteEnds`] |
//! | RFC 9293 §3.7, §3.8.6.2.1, §3.10.4 segmentation, Nagle, SWS, FIN | `segment.rs` | [`next_segment`] |
//! | RFC 9293 §3.10.7.4 fifth, RFC 3465 | `ack.rs` | [`on_ack`] |
//! | RFC 5681 §3.2, 6582, 6675 recovery modes | `recovery.rs` | [`Recovery`], [`Congestion`] |
//! | RFC 3042 Limited Transmit | `limited.rs` | `allowance` |
//! | RFC 6937 PRR (PRR-SSRB) | `prr.rs` | [`Prr`] |
//! | RFC 5681, 3465, 6928 cwnd and ssthresh (NewReno) | `cc.rs` | [`Cc`], [`NewReno`], [`smss`] |
//! | RFC 9438 CUBIC (Linux `tcp_cubic.c`), §5.8 idle periods | `cubic.rs` | [`Cubic`] |
//! | RFC 9406 HyStart++ | `hystart.rs` | [`HyStart`] |
//! | RFC 3522 Eifel detection, RFC 2883 D-SACK (sender): undo | `undo.rs` | [`Undo`] |
//! | RFC 2018 scoreboard, RFC 6675 `pipe` | `sack.rs` | [`Scoreboard`] |
//! | RFC 6298 RTO, RFC 7323 §4.1, RFC 9293 §3.8.6.1 persist | `rto.rs` | [`rtt_update`], [`ts_rtt_sample`], [`backed_off`], [`on_rto`] |
//! | RFC 8985 §6 RACK loss detection, reordering window, DSACK adaptation | `rack.rs` | [`Rack`], [`on_reorder_timeout`] |
//! | RFC 8985 §7 tail loss probes, RFC 2883 DSACK | `tlp.rs` | [`on_pto`] |
//! | pacing (no RFC; Linux `tcp_update_pacing_rate`, sch_fq) | `pace.rs` | `Pacer` |

mod ack;
mod cc;
mod cubic;
mod hystart;
mod limited;
mod pace;
mod prr;
mod rack;
mod recovery;
mod ring;
mod rto;
mod sack;
mod segment;
mod tlp;
mod undo;

pub use ack::{on_ack, AckEffect};
pub use cc::{smss, smss_for, Cc, NewReno};
pub use cubic::Cubic;
pub use hystart::HyStart;
pub use prr::Prr;
pub use rack::{on_reorder_timeout, Rack, RACK_RUNS};
pub use recovery::{Congestion, Recovery};
pub use ring::{ring_read, ring_room, ring_write, WriteEnds, WRITE_ENDS};
pub(crate) use rto::ts_rtt_fallback;
pub use rto::{backed_off, on_rto, rtt_update, ts_rtt_sample};
pub use sack::{Scoreboard, SCOREBOARD};
pub use segment::next_segment;
pub use tlp::on_pto;
pub use undo::Undo;

pub(crate) use undo::counts as undo_counts;

pub(crate) use rto::{arm, rtt_sample};

use crate::conn::ecn;
use crate::conn::recv::ack::{advertise, poll_ack, sack_for, AckOwed};
use crate::conn::state::ts_option;
use crate::conn::{Config, RecvRanges, Reply, SendHalf, State, Timer};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{TcpControl, TcpOptions};

pub(crate) fn snd_buf(snd: &SendHalf) -> usize {
    snd.buf as usize
}

impl State {
    /// The application queued `n` more bytes, written into the send buffer
    /// at [`State::send_end`]; returns how many fit: the buffer holds at most
    /// `M` bytes from SND.UNA, and nothing is taken once our FIN is queued.
    pub fn queue(&mut self, n: usize) -> usize {
        let Some(snd) = self.send_half_mut() else {
            return 0;
        };
        if snd.fin {
            return 0;
        }
        let used = (snd.end - snd.una) as usize;
        let take = n.min((snd.buf as usize).saturating_sub(used));
        snd.end += take as u32;
        if take > 0 {
            // Each write ends with a push (see `WriteEnds`).
            let (end, una) = (snd.end, snd.una);
            snd.writes.record(end, una);
        }
        take
    }

    /// Where the next byte the application sends goes in the send buffer,
    /// and how much room is left there, while it may still send.
    pub fn send_space(&self) -> Option<(SeqNum, usize)> {
        let snd = self.send_half()?;
        if snd.fin {
            return None;
        }
        let used = (snd.end - snd.una) as usize;
        Some((snd.end, (snd.buf as usize).saturating_sub(used)))
    }

    /// The end of the queued data (see [`State::queue`]).
    pub fn send_end(&self) -> Option<SeqNum> {
        self.send_half().map(|s| s.end)
    }

    /// SND.MAX, the highest sequence number sent (a segment that starts
    /// before it is a retransmission).
    pub fn send_max(&self) -> Option<SeqNum> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(s.snd.max),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => Some(s.snd.max),
            _ => None,
        }
    }

    /// SND.UNA and the end of the queued data, in every state that can
    /// still have data to (re)send: the bytes between them lie in the send
    /// buffer as they were queued (and sent) until the peer acknowledges
    /// them.
    pub fn unacked_span(&self) -> Option<(SeqNum, SeqNum)> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some((s.snd.una, s.snd.end)),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                Some((s.snd.una, s.snd.end))
            }
            _ => None,
        }
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_pending(&self) -> u32 {
        self.send_half().map_or(0, |s| s.end - s.una)
    }

    pub(crate) fn send_half(&self) -> Option<&SendHalf> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(&s.snd),
            State::CloseWait(s) => Some(&s.snd),
            _ => None,
        }
    }

    pub(crate) fn send_half_mut(&mut self) -> Option<&mut SendHalf> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(&mut s.snd),
            State::CloseWait(s) => Some(&mut s.snd),
            _ => None,
        }
    }

    /// The next segment to send, if any (quinn's `poll_transmit`): a
    /// retransmission, new data from the send buffer (of `M` bytes) within
    /// the peer's window and the congestion window, or our FIN; then the
    /// pure ACK the connection owes, if any (the last transition asked for
    /// it, or the application's reading opened the window). Call it until
    /// it returns `None` after every other call. Each segment carries the
    /// current ACK and window, so a delayed or owed ACK is sent with it,
    /// and (RFC 2018 §4) the SACK blocks of `rx`, the connection's receive
    /// ranges, where they fit.
    pub fn poll_transmit(&mut self, now: Instant, cfg: &Config, rx: &RecvRanges) -> Option<Reply> {
        self.poll_transmit_or_hold(now, cfg, rx, false)
    }

    /// [`State::poll_transmit`], where with `hold` an owed ACK that only
    /// acknowledges in-order data may wait (ACK batching,
    /// [`Config::ack_hold_bytes`]); [`State::ack_held`] tells whether one
    /// does.
    #[inline]
    pub(crate) fn poll_transmit_or_hold(
        &mut self,
        now: Instant,
        cfg: &Config,
        rx: &RecvRanges,
        hold: bool,
    ) -> Option<Reply> {
        match self.poll_segment(now, cfg, rx) {
            Some(r) => Some(r),
            None => poll_ack(self, now, cfg, rx, hold),
        }
    }

    /// An ACK is owed and held back by ACK batching.
    pub(crate) fn ack_held(&self) -> bool {
        let tcb = match self {
            State::Established(s) | State::FinWait1(s) => &s.tcb,
            State::FinWait2(s) => &s.tcb,
            _ => return false,
        };
        tcb.ack_owed == AckOwed::Held
    }

    #[inline]
    fn poll_segment(&mut self, now: Instant, cfg: &Config, rx: &RecvRanges) -> Option<Reply> {
        let (tcb, snd, rcv) = match self {
            State::Established(s) | State::FinWait1(s) => (&mut s.tcb, &mut s.snd, Ok(&mut s.rcv)),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                (&mut s.tcb, &mut s.snd, Err(s.rcv))
            }
            _ => return None,
        };
        let max = snd.max;
        let (seq, len, fin) = next_segment(snd, tcb, snd_buf(snd), now, cfg)?;
        // RFC 3168 §6.1.2, §6.1.5: new data, not a retransmission, goes
        // ECT(0) (`ecn.rs`). A zero-window probe counts as sent before
        // it goes (`on_rto` moves SND.MAX past its byte), so it is not
        // ECT either.
        let new_data = len > 0 && !seq.before(max);
        let (ece, cwr, ect) = ecn::marks(tcb, new_data);
        let mss = smss(snd, tcb);
        let gso = if len > mss { mss.min(0xffff) as u16 } else { 0 };
        let (rcv_nxt, window) = match rcv {
            Ok(rcv) => {
                // The segment carries the ACK: no delayed ACK is owed now.
                rcv.unacked = 0;
                tcb.timers.clear(Timer::DelayedAck);
                (rcv.nxt, advertise(rcv))
            }
            Err(closed) => (closed.nxt, closed.window),
        };
        tcb.last_ack_sent = rcv_nxt;
        let mut options = TcpOptions {
            timestamps: ts_option(tcb.ts, now),
            sack_blocks: sack_for(tcb, rx),
            ..TcpOptions::default()
        };
        if options.sack_blocks.is_empty() {
            // This segment carries the owed ACK. One with SACK blocks still
            // goes as a pure ACK: the blocks may not fit here, and a
            // duplicate ACK only counts as one without data (RFC 5681 §2).
            tcb.ack_owed = AckOwed::No;
        }
        // RFC 9293 §3.7.1: options and data together stay within the
        // effective send MSS; a full-sized segment (each piece of a GSO
        // one) has no room for SACK blocks, a shorter one takes what fits.
        // (Linux instead shortens the segments, tcp_current_mss counting
        // the SACK blocks; RFC 2018 §4 asks for them on ACKs, "at least"
        // where they fit is what the sizing here allows.)
        let piece = if gso > 0 { u32::from(gso) } else { len };
        while !options.sack_blocks.is_empty()
            && options.buffer_len() as u32 + piece > u32::from(snd.mss)
        {
            options.sack_blocks.truncate(options.sack_blocks.len() - 1);
        }
        Some(Reply {
            seq,
            len,
            gso,
            // PSH on the segment that carries the end of a write (Linux
            // `tcp_push`) or empties the send buffer.
            push: len > 0 && (seq + len == snd.end || snd.writes.pushes(seq, len)),
            ack: Some(rcv_nxt),
            control: if fin {
                TcpControl::Fin
            } else {
                TcpControl::None
            },
            window,
            options,
            ece,
            cwr,
            ect,
        })
    }
}
