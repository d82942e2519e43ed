//! A segment arrives (RFC 9293 §3.10.7): [`State::on_segment`] dispatches
//! to the handler of the state, and each handler runs its section's steps
//! in the RFC's order: §3.10.7.3's in SYN-SENT, §3.10.7.4's in every other
//! state.
//!
//! | RFC 9293 | file | function |
//! |----------|------|----------|
//! | §3.10.7.1 CLOSED | `mod.rs` | [`State::on_segment`] |
//! | §3.10.7.2 LISTEN (a SYN; the endpoint owns LISTEN) | `syn_received.rs` | [`State::accept`] |
//! | §3.10.7.3 SYN-SENT (and the active OPEN, §3.10.1) | `syn_sent.rs` | [`State::connect`]; `syn_sent`: `first_to_fifth`, then a stop through `stopped`, or `established` / `simultaneous_open` |
//! | §3.10.7.3 first: the ACK bit (`<SEQ=SEG.ACK><CTL=RST>` unless SEG.ACK = ISS + 1) | `syn_sent.rs` | `first_ack` |
//! | §3.10.7.3 second: RST, acceptable if it acknowledges our SYN (§3.5.3; RFC 5961 §3.2's checks need RCV.NXT) | `syn_sent.rs` | `second_rst` (its own: no RCV.NXT yet) |
//! | §3.10.7.3 third: security | `steps.rs` | `third_security` (shared) |
//! | §3.10.7.3 fourth: SYN: ESTABLISHED (ACK owed, sixth step on) or SYN-RECEIVED (simultaneous open, SYN-ACK) | `syn_sent.rs` | `fourth_syn`, `established` (`synchronize`, `negotiate`, `send_half`, `handshake_rtt`), `simultaneous_open` |
//! | §3.10.7.3 fifth: neither SYN nor RST, drop | `syn_sent.rs` | `fifth_drop` |
//! | §3.10.7.4, the steps shared by the states (a [`ControlFlow`](core::ops::ControlFlow) of `Stop`; `stopped` gives the next state) | `steps.rs` | |
//! | first: sequence number, RFC 7323 §5.3 PAWS | `steps.rs`, `checks.rs` | `first_sequence` (`paws_rejects`, `acceptable`, `dup_ack_allowed`) |
//! | second: RST (RFC 5961 §3.2) | `steps.rs` | `second_rst` |
//! | third: security | `steps.rs` | `third_security` |
//! | fourth: SYN (RFC 5961 §4, rate limit §7) | `steps.rs`, `checks.rs` | `fourth_syn` (`challenge_allowed`) |
//! | fifth: ACK (RFC 5961 §5.2, the window update) | `steps.rs`, `checks.rs` | `fifth_ack` (`check_ack`) |
//! | sixth to eighth: URG, text, FIN | `synchronized.rs` | `after_ack`, `eighth_fin` |
//! | §3.10.7.4 ESTABLISHED, FIN-WAIT-1: first to fifth, then sixth to eighth | `synchronized.rs` | `open`: `first_to_fifth`, `zero_window_ack` (RCV.WND = 0), `after_ack` |
//! | §3.10.7.4 FIN-WAIT-2 | `synchronized.rs` | `fin_wait2` (as FIN-WAIT-1, FIN acknowledged) |
//! | §3.10.7.4 SYN-RECEIVED: first to fifth; fourth "return to LISTEN", fifth enters ESTABLISHED | `syn_received.rs` | `syn_received`: `retransmitted_syn`, `first_to_fifth`, `fourth_syn_received`, `fifth_syn_received`, `establish`, `handshake_rtt` |
//! | §3.10.7.4 CLOSE-WAIT, CLOSING, LAST-ACK (window last advertised, RCV.WND = 0) | `closing.rs` | `half_closed`: `first_to_fifth`, `after_ack` |
//! | §3.10.7.4 TIME-WAIT (RFC 6191, RFC 7323 §5, RFC 5961 §7) | `time_wait.rs` | `time_wait`: `first_time_wait`, `second_rst`, `fourth_time_wait` (reopen) |

pub(crate) mod checks;
pub(crate) mod closing;
pub(crate) mod steps;
pub(crate) mod syn_received;
pub(crate) mod syn_sent;
pub(crate) mod synchronized;
pub(crate) mod time_wait;

pub use checks::acceptable;

use crate::conn::state::{HalfKind, OpenKind};
use crate::conn::{reset_for, Config, RecvBuffer, SegmentDrop, State, Transition};
use crate::time::Instant;
use crate::wire::TcpRepr;

/// What every segment does besides its state's steps, on the state it left:
/// RFC 1122 §4.2.3.6, a segment from the peer restarts keep-alive; Linux
/// `tcp_ack`, an ACK not older than SND.UNA (`una`, before the segment;
/// one past SND.NXT was dropped) clears the soft error of an ICMP error.
#[inline(always)]
fn after_segment(
    state: &mut State,
    dropped: Option<SegmentDrop>,
    una: Option<crate::seq::SeqNum>,
    seg: &TcpRepr<'_>,
    now: Instant,
) {
    let accepted = matches!(dropped, None | Some(SegmentDrop::NoBuffer));
    crate::conn::keepalive::on_segment(state, accepted, now);
    if let (true, Some(ack), Some(una)) = (accepted, seg.ack_number, una) {
        if ack.after_eq(una) {
            crate::conn::icmp_err::on_ack(state);
        }
    }
}

impl State {
    /// RFC 9293 §3.10.7.4: one segment arrives for this connection. The steps
    /// run in the RFC's order: sequence number (with PAWS), RST, security,
    /// SYN, ACK, URG, text, FIN. In SYN-SENT they are §3.10.7.3's: ACK, RST,
    /// security, SYN, then the drop of a segment with neither SYN nor RST.
    ///
    /// `rx` is this connection's receive buffer. In-order payload is returned
    /// in [`Transition::data`] (borrowed from `seg`) and
    /// [`Transition::buffered`]; the caller hands both to the application.
    #[inline(always)]
    pub fn on_segment<'a>(
        self,
        seg: &TcpRepr<'a>,
        now: Instant,
        cfg: &Config,
        rx: &mut RecvBuffer<'_>,
    ) -> Transition<'a> {
        let una = self.snd_una();
        let mut t = self.arrive(seg, now, cfg, rx);
        after_segment(&mut t.state, t.dropped, una, seg, now);
        t
    }

    /// [`State::on_segment_ecn`] carried out in place: the endpoint's path,
    /// which spares copying the state (some 800 bytes) out of its slot and
    /// back for every segment. ESTABLISHED and FIN-WAIT-1 (where the data
    /// flows), CLOSE-WAIT, CLOSING and LAST-ACK change in place; the others
    /// go through
    /// [`State::on_segment_ecn`] and are written back. Either way `self` is
    /// the new state after the call; the transition's `state` is not
    /// (its other fields are as [`State::on_segment_ecn`] gives them).
    #[inline(always)]
    pub(crate) fn on_segment_mut<'a>(
        &mut self,
        seg: &TcpRepr<'a>,
        ip: crate::conn::IpEcn,
        now: Instant,
        cfg: &Config,
        rx: &mut RecvBuffer<'_>,
    ) -> Transition<'a> {
        let una = self.snd_una();
        let mut t = Transition::new(State::Closed(crate::conn::CloseReason::Normal));
        let next = match self {
            State::Established(s) => {
                synchronized::open_mut(OpenKind::Established, s, seg, now, cfg, rx, &mut t)
            }
            State::FinWait1(s) => {
                synchronized::open_mut(OpenKind::FinWait1, s, seg, now, cfg, rx, &mut t)
            }
            State::CloseWait(s) => {
                closing::half_closed_mut(HalfKind::CloseWait, s, seg, now, cfg, &mut t)
            }
            State::Closing(s) => {
                closing::half_closed_mut(HalfKind::Closing, s, seg, now, cfg, &mut t)
            }
            State::LastAck(s) => {
                closing::half_closed_mut(HalfKind::LastAck, s, seg, now, cfg, &mut t)
            }
            _ => {
                let t = self.on_segment_ecn(seg, ip, now, cfg, rx);
                *self = t.state;
                return t;
            }
        };
        if let Some(next) = next {
            *self = next;
        }
        after_segment(self, t.dropped, una, seg, now);
        crate::conn::ecn::after_segment(self, t.dropped, seg, ip);
        t
    }

    #[inline(always)]
    fn arrive<'a>(
        self,
        seg: &TcpRepr<'a>,
        now: Instant,
        cfg: &Config,
        rx: &mut RecvBuffer<'_>,
    ) -> Transition<'a> {
        match self {
            State::SynSent(s) => syn_sent::syn_sent(s, seg, now, cfg, rx),
            State::SynReceived(s) => syn_received::syn_received(s, seg, now, cfg, rx),
            State::Established(s) => {
                synchronized::open(OpenKind::Established, s, seg, now, cfg, rx)
            }
            State::FinWait1(s) => synchronized::open(OpenKind::FinWait1, s, seg, now, cfg, rx),
            State::FinWait2(s) => synchronized::fin_wait2(s, seg, now, cfg, rx),
            State::CloseWait(s) => closing::half_closed(HalfKind::CloseWait, s, seg, now, cfg),
            State::Closing(s) => closing::half_closed(HalfKind::Closing, s, seg, now, cfg),
            State::LastAck(s) => closing::half_closed(HalfKind::LastAck, s, seg, now, cfg),
            State::TimeWait(s) => time_wait::time_wait(s, seg, now, cfg),
            State::Closed(r) => {
                // RFC 9293 §3.10.7.1: CLOSED answers with a reset.
                let mut t = Transition::new(State::Closed(r));
                if let Some(rst) = reset_for(seg) {
                    t.reply(rst);
                }
                t
            }
        }
    }
}
