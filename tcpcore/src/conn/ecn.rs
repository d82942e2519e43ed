//! Explicit Congestion Notification for TCP (RFC 3168 §6.1), with Linux's
//! default policy (`net.ipv4.tcp_ecn = 2`, `net/ipv4/tcp_input.c`,
//! `include/net/tcp_ecn.h`):
//!
//! - Negotiation (§6.1.1). A passive open accepts ECN when the peer's SYN
//!   is an ECN-setup SYN (ECE and CWR) and its IP header is not ECT (Linux
//!   `tcp_ecn_create_request`, [`syn_as_offered`]): the SYN-ACK carries
//!   ECE, not CWR. An active open asks for it only with [`Ecn::On`] (SYN
//!   with ECE and CWR; a retransmitted SYN without them, Linux
//!   `tcp_ecn_clear_syn` with `tcp_ecn_fallback = 1`, RFC 3168 §6.1.1.1),
//!   and ECN is on when the SYN-ACK has ECE without CWR (Linux
//!   `tcp_ecn_rcv_synack`). [`Ecn::Off`] neither asks nor accepts. A
//!   connection made from a SYN cookie keeps ECN only when timestamps
//!   carry the bit (`cookie.rs`, Linux `cookie_ecn_ok`).
//! - Sending (§6.1.2, §6.1.5, Linux `tcp_ecn_send`): new data goes out
//!   ECT(0); pure ACKs, retransmissions, zero-window probes, SYN and
//!   SYN-ACK go Not-ECT. An ACK with ECE (not a SYN-ACK) while data is in
//!   flight and no reduction is under way makes the sender reduce cwnd as
//!   for a loss, without retransmitting: congestion control's
//!   `on_congestion_event` sets ssthresh, the recovery mode becomes
//!   [`Recovery::Cwr`] until the data then outstanding is acknowledged
//!   (Linux `tcp_enter_cwr`, `TCP_CA_CWR`), and PRR (RFC 6937, `send/prr.rs`, Linux `tcp_cwnd_reduction`) brings
//!   cwnd down on the ACKs that follow; at the end cwnd = ssthresh (Linux
//!   `tcp_end_cwnd_reduction`). Further ECE in that window change nothing.
//!   The next new data segment carries CWR (Linux `TCP_ECN_QUEUE_CWR`).
//! - Receiving (§6.1.3, Linux `tcp_ecn_accept_cwr`, `__tcp_ecn_check_ce`):
//!   a data segment whose IP header is CE makes every segment we send
//!   carry ECE until a data segment with CWR arrives, and, the first time,
//!   puts the ACK policy in quick-ACK mode for two ACKs (the sender's cwnd
//!   may be small); a CWR with data is acknowledged at once. Linux's "funny
//!   extension" is kept: once ECT has been seen, a Not-ECT data segment
//!   (likely a retransmission) also enters quick-ACK mode.
//!
//! The IP header's ECN field reaches the connection through
//! [`State::on_segment_ecn`]; [`State::on_segment`], for a caller that
//! does not know the field, leaves the receiver's side of ECN out. The
//! ECN marks of a segment to send are [`Reply::ece`],
//! [`Reply::cwr`] and [`Reply::ect`].

use crate::conn::recv::ack::AckOwed;
use crate::conn::send::Recovery;
use crate::conn::{Config, RecvBuffer, RecvHalf, SegmentDrop, SendHalf, State, Tcb, Transition};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr};

#[cfg(doc)]
use crate::conn::Reply;

/// Whether connections use ECN ([`Config::ecn`]; Linux `tcp_ecn`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ecn {
    /// Never (Linux `tcp_ecn = 0`): an ECN-setup SYN gets a plain SYN-ACK.
    Off,
    /// Accepted when the peer asks for it, not asked for on active opens
    /// (Linux's default, `tcp_ecn = 2`).
    #[default]
    Passive,
    /// Also asked for on active opens: our SYN carries ECE and CWR (Linux
    /// `tcp_ecn = 1`).
    On,
}

/// The ECN field of an IP header (RFC 3168 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IpEcn {
    /// `00`: not ECN-capable.
    #[default]
    NotEct,
    /// `01`: ECT(1).
    Ect1,
    /// `10`: ECT(0).
    Ect0,
    /// `11`: congestion experienced.
    Ce,
}

impl IpEcn {
    /// The codepoint of the field's two bits (higher bits ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => IpEcn::NotEct,
            1 => IpEcn::Ect1,
            2 => IpEcn::Ect0,
            _ => IpEcn::Ce,
        }
    }

    /// The field's two bits.
    pub const fn bits(self) -> u8 {
        match self {
            IpEcn::NotEct => 0,
            IpEcn::Ect1 => 1,
            IpEcn::Ect0 => 2,
            IpEcn::Ce => 3,
        }
    }
}

/// A connection's ECN state, Linux's `tcp_sock.ecn_flags`: negotiated,
/// CWR owed on the next new data, ECE owed until the peer's CWR, ECT seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EcnState(u8);

/// ECN was negotiated (Linux `TCP_ECN_OK`).
const OK: u8 = 1;
/// The next new data segment carries CWR (Linux `TCP_ECN_QUEUE_CWR`).
const QUEUE_CWR: u8 = 2;
/// Every segment carries ECE until the peer's CWR (Linux
/// `TCP_ECN_DEMAND_CWR`).
const DEMAND_CWR: u8 = 4;
/// An ECT or CE data segment has arrived (Linux `TCP_ECN_SEEN`).
const SEEN: u8 = 8;

impl EcnState {
    /// ECN off.
    pub(crate) const OFF: EcnState = EcnState(0);
    /// ECN negotiated, nothing owed yet.
    pub(crate) const ON: EcnState = EcnState(OK);

    /// ECN was negotiated for this connection.
    pub const fn negotiated(self) -> bool {
        self.0 & OK != 0
    }

    /// Our segments carry ECE: congestion was seen and the peer's CWR has
    /// not arrived yet (RFC 3168 §6.1.3).
    pub const fn echoing(self) -> bool {
        self.0 & DEMAND_CWR != 0
    }

    /// Our next new data segment carries CWR (RFC 3168 §6.1.2).
    pub const fn cwr_queued(self) -> bool {
        self.0 & QUEUE_CWR != 0
    }

    const fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// RFC 3168 §6.1.1: a passive open accepts ECN for an ECN-setup SYN (ECE
/// and CWR) unless [`Ecn::Off`] (Linux `tcp_ecn_create_request`).
pub(crate) fn accept_syn(syn: &TcpRepr<'_>, cfg: &Config) -> EcnState {
    if cfg.ecn != Ecn::Off && syn.ece && syn.cwr {
        EcnState::ON
    } else {
        EcnState::OFF
    }
}

/// The SYN as the passive open is to judge it: Linux
/// (`tcp_ecn_create_request`: `!ect`) does not take a SYN whose IP header
/// is ECT or CE as an ECN-setup SYN (RFC 3168 §6.1.1: "A host MUST NOT set
/// ECT on SYN or SYN-ACK packets"; such a SYN has passed a path or a
/// stack that mangles the field). The endpoint hands LISTEN this copy.
pub fn syn_as_offered<'a>(syn: &TcpRepr<'a>, ip: IpEcn) -> TcpRepr<'a> {
    let mut s = *syn;
    if ip != IpEcn::NotEct {
        s.ece = false;
        s.cwr = false;
    }
    s
}

/// RFC 3168 §6.1.1: whether an active open asks for ECN ([`Ecn::On`]).
pub(crate) fn request(cfg: &Config) -> bool {
    cfg.ecn == Ecn::On
}

/// Whether our SYN carries ECE and CWR: when ECN is asked for, on the
/// first transmission only (RFC 3168 §6.1.1.1; Linux `tcp_ecn_clear_syn`
/// with `tcp_ecn_fallback = 1`: a retransmitted SYN goes without, in case
/// a middlebox drops ECN-setup SYNs).
pub(crate) fn syn_setup(requested: bool, retries: u8) -> bool {
    requested && retries == 0
}

/// RFC 3168 §6.1.1: the peer's SYN-ACK answers our ECN-setup SYN with ECE
/// and without CWR (Linux `tcp_ecn_rcv_synack`).
pub(crate) fn on_syn_ack(requested: bool, seg: &TcpRepr<'_>) -> EcnState {
    if requested && seg.ece && !seg.cwr {
        EcnState::ON
    } else {
        EcnState::OFF
    }
}

/// A simultaneous open: the peer's SYN is judged as LISTEN judges one only
/// when our own SYN asked for ECN (Linux `tcp_ecn_rcv_syn`).
pub(crate) fn simultaneous_syn<'a>(requested: bool, syn: &TcpRepr<'a>) -> TcpRepr<'a> {
    let mut s = *syn;
    if !requested {
        s.ece = false;
        s.cwr = false;
    }
    s
}

/// The ECN marks of a segment we send (Linux `tcp_ecn_send`): `(ece, cwr,
/// ect)`. `new_data`: it carries data never sent before and is no window
/// probe; only such a segment is ECT(0) (RFC 3168 §6.1.5: not
/// retransmissions; §6.1.4 and §6.1.6: not pure ACKs or window probes), and
/// the first one after a reduction takes the queued CWR (§6.1.2). Every
/// segment carries ECE while the peer's CWR is owed (§6.1.3).
#[inline]
pub(crate) fn marks(tcb: &mut Tcb, new_data: bool) -> (bool, bool, bool) {
    let e = &mut tcb.ecn;
    if !e.negotiated() {
        return (false, false, false);
    }
    let cwr = new_data && e.has(QUEUE_CWR);
    if cwr {
        e.set(QUEUE_CWR, false);
    }
    (e.echoing(), cwr, new_data)
}

/// RFC 3168 §6.1.2, the sender side of an acceptable ACK (call before the
/// ACK moves SND.UNA): a reduction under way ends once SND.UNA passes its
/// recovery point (Linux `tcp_fastretrans_alert`: "CWR is to be held
/// something *above* high_seq is ACKed for CWR bit to reach receiver");
/// then an ACK with ECE (not a SYN's, Linux `tcp_ecn_rcv_ecn_echo`) while
/// data is in flight and the sender is in the open state begins one (Linux
/// `tcp_try_to_open` → `tcp_enter_cwr`; in fast recovery or after a
/// timeout the window is being reduced already).
pub(crate) fn on_ack(snd: &mut SendHalf, tcb: &mut Tcb, seg: &TcpRepr<'_>, ack: SeqNum, mss: u32) {
    let cc = &mut snd.cc;
    if let Recovery::Cwr { recover } = cc.recovery {
        if ack.after(recover) {
            // Linux tcp_end_cwnd_reduction.
            cc.cc.set_cwnd(cc.cc.ssthresh());
            cc.recovery = Recovery::Open;
        }
    }
    let in_flight = snd.max != snd.una;
    if seg.ece
        && seg.control != TcpControl::Syn
        && tcb.ecn.negotiated()
        && in_flight
        && cc.recovery == Recovery::Open
    {
        // Linux tcp_init_cwnd_reduction: ssthresh from congestion control,
        // PRR from here, CWR on the next new data.
        let flight = snd.nxt - snd.una;
        cc.cc.on_congestion_event(flight, mss);
        cc.prr = super::send::Prr::start(flight);
        cc.recovery = Recovery::Cwr { recover: snd.nxt };
        // An ECN reduction is never undone (Linux tcp_enter_cwr clears
        // undo_marker): a D-SACK after it must not restore the window.
        cc.undo.forget();
        tcb.ecn.set(QUEUE_CWR, true);
    }
}

impl State {
    /// [`State::on_segment`] for a segment whose IP header's ECN field is
    /// `ip`: on a connection that negotiated ECN, a data segment with CE
    /// makes our segments carry ECE until the peer's CWR arrives (RFC 3168
    /// §6.1.3), and is acknowledged at once. A caller that does not know
    /// the field calls [`State::on_segment`].
    #[inline(always)]
    pub fn on_segment_ecn<'a>(
        self,
        seg: &TcpRepr<'a>,
        ip: IpEcn,
        now: Instant,
        cfg: &Config,
        rx: &mut RecvBuffer<'_>,
    ) -> Transition<'a> {
        let mut t = self.on_segment(seg, now, cfg, rx);
        after_segment(&mut t.state, t.dropped, seg, ip);
        t
    }
}

/// The ECN part of a segment's arrival, on the state it left (see
/// [`State::on_segment_ecn`]). RFC 3168 §6.1.5: "the TCP data receiver
/// SHOULD ignore the ECN field on arriving data packets that are outside
/// of the receiver's current window" (Linux runs these checks in
/// tcp_data_queue, which a segment dropped by tcp_validate_incoming never
/// reaches; one dropped for want of buffer space does).
#[inline(always)]
pub(crate) fn after_segment(
    state: &mut State,
    dropped: Option<SegmentDrop>,
    seg: &TcpRepr<'_>,
    ip: IpEcn,
) {
    let taken = matches!(dropped, None | Some(SegmentDrop::NoBuffer));
    if taken && !seg.payload.is_empty() {
        on_data(state, seg, ip);
    }
}

/// A data segment was taken in: the peer's CWR, then its IP header's ECN
/// field (Linux `tcp_ecn_accept_cwr`, then `tcp_ecn_check_ce`).
fn on_data(state: &mut State, seg: &TcpRepr<'_>, ip: IpEcn) {
    let (tcb, rcv): (&mut Tcb, Option<&mut RecvHalf>) = match state {
        State::SynReceived(s) => (&mut s.tcb, Some(&mut s.rcv)),
        State::Established(s) | State::FinWait1(s) => (&mut s.tcb, Some(&mut s.rcv)),
        State::FinWait2(s) => (&mut s.tcb, Some(&mut s.rcv)),
        State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => (&mut s.tcb, None),
        _ => return,
    };
    if !tcb.ecn.negotiated() {
        return;
    }
    if seg.cwr {
        // RFC 3168 §6.1.3: "the receiver ... stops setting the ECE flag
        // ... [on] receiving a CWR packet"; Linux: "If the sender is
        // telling us it has entered CWR, then its cwnd may be very low
        // (even just 1 packet), so we should ACK immediately."
        tcb.ecn.set(DEMAND_CWR, false);
        tcb.owe(AckOwed::Now);
    }
    let quick = match ip {
        // Linux: "Funny extension: if ECT is not set on a segment, and we
        // already seen ECT on a previous segment, it is probably a
        // retransmit."
        IpEcn::NotEct => tcb.ecn.has(SEEN),
        IpEcn::Ce => {
            // "Better not delay acks, sender can have a very low cwnd".
            let first = !tcb.ecn.echoing();
            tcb.ecn.set(DEMAND_CWR, true);
            tcb.ecn.set(SEEN, true);
            first
        }
        IpEcn::Ect0 | IpEcn::Ect1 => {
            tcb.ecn.set(SEEN, true);
            false
        }
    };
    if quick {
        // Linux tcp_enter_quickack_mode(sk, 2): this segment and the next
        // are acknowledged at once.
        if let Some(rcv) = rcv {
            let wnd = rcv.adv_right.max(rcv.read + rcv.cap) - rcv.nxt;
            rcv.ackq.enter_at_most(wnd, 2);
        }
        tcb.owe(AckOwed::Now);
    }
}
