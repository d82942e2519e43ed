//! RFC 9293 §3.10.7.4's steps, each once, as the states share them: first
//! (sequence number, with RFC 7323 §5.3 PAWS), second (RST, RFC 5961 §3.2),
//! third (security), fourth (SYN, RFC 5961 §4) and fifth (ACK, RFC 5961
//! §5.2). Each step either lets the segment go on to the next
//! ([`ControlFlow::Continue`]) or stops it ([`ControlFlow::Break`] with a
//! [`Stop`]), after pushing any ACK it sends; [`stopped`] turns a stop into
//! the next state. The state handlers call them in the RFC's order, with
//! their own step where the RFC gives the state its own rule.

use core::ops::ControlFlow;

use crate::conn::arrive::checks::{
    acceptable, challenge_allowed, check_ack, dup_ack_allowed, paws_rejects, AckCheck, PAWS_WINDOW,
};
use crate::conn::recv::ack::{make_ack, make_ack_closed, AckOwed};
use crate::conn::recv::dsack;
use crate::conn::{
    CloseReason, Config, Event, RecvBuffer, RecvClosed, RecvHalf, Reply, SegmentDrop, SendHalf,
    State, Tcb, Transition,
};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr};

/// Why a segment goes no further than a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Dropped, after any ACK the step sent; the state stays.
    Drop(SegmentDrop),
    /// The connection is reset: an acceptable RST (second), or SYN-RECEIVED
    /// returning to LISTEN on a SYN (fourth).
    Reset,
    /// Taken, with nothing further to do (TIME-WAIT: a bare ACK, the peer's
    /// FIN again); the state stays.
    Taken,
    /// TIME-WAIT: a new SYN opens a new incarnation with this ISS (RFC 6191).
    Reopen(SeqNum),
}

/// What a step returns: go on (with the step's result), or stop.
pub(crate) type Step<T = ()> = ControlFlow<Stop, T>;

/// The next state after a [`Stop`]: `stay` (the state the segment found,
/// with what the steps changed in it) unless the connection was reset.
#[inline]
pub(crate) fn stopped<'a>(mut t: Transition<'a>, stop: Stop, stay: State) -> Transition<'a> {
    t.state = stopped_mut(&mut t, stop).unwrap_or(stay);
    t
}

/// [`stopped`] on a transition in place: what the stop puts in `t`, and
/// the next state when it is another than the one the segment found (a
/// reset: CLOSED).
#[inline(always)]
pub(crate) fn stopped_mut(t: &mut Transition<'_>, stop: Stop) -> Option<State> {
    match stop {
        Stop::Drop(why) => {
            t.dropped = Some(why);
            None
        }
        Stop::Reset => {
            // "If the RST bit is set ... enter the CLOSED state" (and, in
            // SYN-RECEIVED from a passive OPEN, "return to the LISTEN
            // state": for the endpoint the embryonic connection goes away).
            t.event(Event::Closed(CloseReason::Reset));
            Some(State::Closed(CloseReason::Reset))
        }
        Stop::Taken => None,
        Stop::Reopen(iss) => {
            t.reopen = Some(iss);
            None
        }
    }
}

/// The receive side a segment is judged against and answered from.
pub(crate) enum Rcv<'x, 'b> {
    /// ESTABLISHED, FIN-WAIT-1/2, SYN-RECEIVED: the receive half is open;
    /// the ACK advertises the window and carries SACK blocks.
    Open(&'x mut RecvHalf, &'x RecvBuffer<'b>),
    /// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: after the peer's FIN.
    Closed(&'x RecvClosed),
}

impl Rcv<'_, '_> {
    #[inline]
    pub(crate) fn nxt(&self) -> SeqNum {
        match self {
            Rcv::Open(rcv, _) => rcv.nxt,
            Rcv::Closed(rcv) => rcv.nxt,
        }
    }

    /// RCV.WND for the acceptability test (first).
    #[inline]
    fn window(&self) -> u32 {
        match self {
            // The buffer space from RCV.NXT (the application has consumed
            // all in-order data), and at least what was advertised.
            Rcv::Open(rcv, _) => rcv.adv_right.max(rcv.read + rcv.cap) - rcv.nxt,
            // After the peer's FIN nothing more may come: only a zero-length
            // segment at RCV.NXT is acceptable; a retransmitted FIN (below
            // RCV.NXT) is answered with an ACK.
            Rcv::Closed(_) => 0,
        }
    }

    /// The right edge of the window a RST is judged against (RFC 5961
    /// §3.2): the one last advertised -- what the peer was told, not the
    /// larger buffer space that data may still use.
    #[inline]
    fn rst_right(&self) -> SeqNum {
        match self {
            Rcv::Open(rcv, _) => rcv.adv_right,
            Rcv::Closed(rcv) => rcv.right,
        }
    }
}

/// The pieces of a state the steps work on, borrowed apart.
pub(crate) struct Arrival<'x, 'b> {
    pub(crate) tcb: &'x mut Tcb,
    pub(crate) snd_nxt: SeqNum,
    pub(crate) rcv: Rcv<'x, 'b>,
    pub(crate) now: Instant,
    pub(crate) cfg: &'x Config,
    /// RFC 5961 §4 applies: a SYN is answered "irrespective of the sequence
    /// number" (the synchronized states). SYN-RECEIVED keeps RFC 9293's
    /// order, where a SYN meets the first check before the fourth.
    pub(crate) synchronized: bool,
    /// The state's [`State::poll_transmit`](crate::State::poll_transmit)
    /// sends the ACKs it owes (every synchronized state but TIME-WAIT):
    /// an ACK is then owed, not built, so that data about to go carries
    /// it instead.
    pub(crate) owe: bool,
    /// A duplicate ACK that PAWS lets pass (Linux `tcp_disordered_ack`,
    /// [`disordered_ack`](super::checks::disordered_ack)); false where
    /// there is no send half to judge it by.
    pub(crate) paws_exempt: bool,
}

impl Arrival<'_, '_> {
    /// Sends an ACK of RCV.NXT now, if `allowed`.
    #[inline]
    pub(crate) fn ack_if(&mut self, allowed: bool, t: &mut Transition<'_>) {
        if allowed && self.owe {
            self.tcb.owe(AckOwed::Now);
        } else if allowed {
            let r = self.ack();
            t.reply(r);
        }
    }

    /// The ACK of RCV.NXT, as this state sends it.
    pub(crate) fn ack(&mut self) -> Reply {
        match &mut self.rcv {
            Rcv::Open(rcv, rx) => make_ack(self.tcb, self.snd_nxt, rcv, rx.meta(), self.now),
            Rcv::Closed(rcv) => make_ack_closed(self.tcb, self.snd_nxt, rcv, self.now),
        }
    }

    /// An ACK within RFC 5961 §7's challenge-ACK budget.
    #[inline]
    pub(crate) fn challenge(&mut self, t: &mut Transition<'_>) {
        let allowed = challenge_allowed(self.tcb, self.now, self.cfg);
        self.ack_if(allowed, t);
    }

    /// The ACK for an unacceptable segment ([`dup_ack_allowed`]).
    fn dup_ack(&mut self, seg: &TcpRepr<'_>, t: &mut Transition<'_>) {
        let allowed = dup_ack_allowed(self.tcb, seg, self.now, self.cfg);
        self.ack_if(allowed, t);
    }
}

/// RFC 9293 §3.10.7.4 first: the sequence number, after RFC 7323 §5.3's
/// PAWS ("R1 ... If SEG.TSval < TS.Recent ... send an acknowledgment in
/// reply ... and drop the segment"). A RST is judged by its sequence number
/// alone in the second step (RFC 5961 §3.2), and in the synchronized states
/// a SYN in the fourth, "irrespective of the sequence number" (RFC 5961
/// §4.2; so that the window test's ACK does not answer every forged SYN
/// outside the challenge-ACK budget).
#[inline]
pub(crate) fn first_sequence(a: &mut Arrival, seg: &TcpRepr<'_>, t: &mut Transition<'_>) -> Step {
    match seg.control {
        TcpControl::Rst => return ControlFlow::Continue(()),
        TcpControl::Syn if a.synchronized => return ControlFlow::Continue(()),
        _ => {}
    }
    if !a.paws_exempt && paws_rejects(a.tcb, seg, a.now, PAWS_WINDOW) {
        a.dup_ack(seg, t);
        return ControlFlow::Break(Stop::Drop(SegmentDrop::Paws));
    }
    let seg_len = seg.segment_len() as u32;
    if !acceptable(a.rcv.nxt(), a.rcv.window(), seg.seq_number, seg_len) {
        // "If an incoming segment is not acceptable, an acknowledgment
        // should be sent in reply (unless the RST bit is set)" -- within the
        // challenge-ACK rate limit for pure ACKs, so that forged
        // out-of-window segments cannot turn us into an ACK amplifier
        // (Linux does the same with tcp_invalid_ratelimit); data is exempt.
        // Data we already have is reported in a D-SACK block (RFC 2883),
        // and quick-ACK mode entered (Linux `tcp_send_dupack`).
        if let Rcv::Open(rcv, rx) = &mut a.rcv {
            old_data(rcv, rx, a.tcb.sack, seg);
        }
        a.dup_ack(seg, t);
        return ControlFlow::Break(Stop::Drop(SegmentDrop::OutOfWindow));
    }
    ControlFlow::Continue(())
}

/// An unacceptable segment with data below RCV.NXT (a needless
/// retransmission): RFC 2883 §4, its D-SACK block for the ACK; Linux
/// `tcp_send_dupack` (with SACK) sets it and enters quick-ACK mode.
fn old_data(rcv: &mut RecvHalf, rx: &RecvBuffer<'_>, sack: bool, seg: &TcpRepr<'_>) {
    let seq = seg.seq_number;
    if sack && !seg.payload.is_empty() && seq.before(rcv.nxt) {
        let wnd = rcv.adv_right.max(rcv.read + rcv.cap) - rcv.nxt;
        let end = seq + seg.payload.len() as u32;
        if dsack::note(rcv, sack, rx.ranges(), seq, end) {
            rcv.ackq.enter(wnd);
        }
    }
}

/// RFC 9293 §3.10.7.4 second: RST, as RFC 5961 §3.2 has it (and RFC 9293
/// adopts) in every state past LISTEN: "1) If the RST bit is set and the
/// sequence number is outside the current receive window, silently drop the
/// segment. 2) If the RST bit is set and the sequence number exactly matches
/// the next expected sequence number (RCV.NXT), then TCP MUST reset the
/// connection. 3) If the RST bit is set and the sequence number does not
/// exactly match the next expected sequence value, yet is within the
/// current receive window, TCP MUST send an acknowledgment (challenge
/// ACK)". The window is [RCV.NXT, the right edge last advertised); a RST
/// whose text starts below RCV.NXT is outside it.
#[inline]
pub(crate) fn second_rst(a: &mut Arrival, seg: &TcpRepr<'_>, t: &mut Transition<'_>) -> Step {
    if seg.control != TcpControl::Rst {
        return ControlFlow::Continue(());
    }
    let nxt = a.rcv.nxt();
    if seg.seq_number == nxt {
        return ControlFlow::Break(Stop::Reset);
    }
    if !seg.seq_number.in_window(nxt, a.rcv.rst_right()) {
        return ControlFlow::Break(Stop::Drop(SegmentDrop::OutOfWindow));
    }
    a.challenge(t);
    ControlFlow::Break(Stop::Drop(SegmentDrop::RstNotExact))
}

/// RFC 9293 §3.10.7.4 third: security and compartment. No IP security
/// options are used (RFC 9293 deprecates the check); nothing to do.
#[inline]
pub(crate) fn third_security() -> Step {
    ControlFlow::Continue(())
}

/// RFC 9293 §3.10.7.4 fourth in a synchronized state: RFC 5961 §4.2 "If
/// the SYN bit is set, irrespective of the sequence number, TCP MUST send an
/// ACK (also referred to as challenge ACK) to the remote peer", within the
/// rate limit of §7, and drop the segment.
#[inline]
pub(crate) fn fourth_syn(a: &mut Arrival, seg: &TcpRepr<'_>, t: &mut Transition<'_>) -> Step {
    if seg.control != TcpControl::Syn {
        return ControlFlow::Continue(());
    }
    a.challenge(t);
    ControlFlow::Break(Stop::Drop(SegmentDrop::UnexpectedSyn))
}

/// RFC 9293 §3.10.7.4 fifth in the synchronized states: "if the ACK bit is
/// off drop the segment"; an ACK outside RFC 5961 §5.2's range is answered
/// with an ACK (rate-limited, §7) and dropped; an acceptable one is taken
/// ([`check_ack`]). Goes on with whether our FIN is now acknowledged.
#[inline]
pub(crate) fn fifth_ack(
    a: &mut Arrival,
    snd: &mut SendHalf,
    seg: &TcpRepr<'_>,
    t: &mut Transition<'_>,
) -> Step<bool> {
    match check_ack(snd, a.tcb, seg, a.now, a.cfg) {
        AckCheck::Ok { fin_acked } => ControlFlow::Continue(fin_acked),
        AckCheck::ChallengeAndDrop => {
            if seg.ack_number.is_some() {
                a.challenge(t);
            }
            ControlFlow::Break(Stop::Drop(SegmentDrop::BadAck))
        }
    }
}
