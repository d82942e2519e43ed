//! The transition table for SYN-SENT (RFC 9293 §3.10.7.3), one row per
//! rule of its five steps, in the style of `transitions.rs`: the
//! connection is opened with `State::connect` (our SYN, ISS), and each row
//! feeds one segment of the peer's (its sequence number from IRS) to
//! `State::on_segment` and checks the next state, what is sent (the owed
//! ACK included: `Fx::feed` polls it), the events and the drop reason.
//! Packet traces of the same rules, through the endpoint, are in
//! `trace_syn_sent.rs`.

#[path = "transitions/mod.rs"]
mod table;

use table::*;
use tcpcore::conn::SegmentDrop::*;
use tcpcore::wire::TcpControl;
use tcpcore::{CloseReason, Event, SeqNum, StateName::*};

const FIRST: &str = "RFC 9293 §3.10.7.3 first: SEG.ACK =< ISS or SEG.ACK > SND.NXT, send <SEQ=SEG.ACK><CTL=RST> and discard the segment";
const FIRST_RST: &str = "RFC 9293 §3.10.7.3 first: an unacceptable ACK on a RST: drop the segment, send nothing (\"unless the RST bit is set\")";
const SECOND_ACKED: &str = "RFC 9293 §3.10.7.3 second / RFC 5961 §3.2: RST whose ACK is acceptable: \"connection reset\", enter CLOSED (its SEQ is not checked)";
const SECOND_NO_ACK: &str =
    "RFC 9293 §3.10.7.3 second: RST without ACK: \"Otherwise (no ACK), drop the segment and return\"";
const FOURTH_ACKED: &str = "RFC 9293 §3.10.7.3 fourth: SYN, SND.UNA > ISS: enter ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (owed, sent by poll_transmit/poll_ack)";
const FOURTH_TEXT: &str = "RFC 9293 §3.10.7.3 fourth: ESTABLISHED, \"continue processing at the sixth step\": the text is delivered and acknowledged";
const FOURTH_SIMUL: &str = "RFC 9293 §3.10.7.3 fourth / §3.5 (MUST-10): SYN without ACK: enter SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>";
const FIFTH: &str =
    "RFC 9293 §3.10.7.3 fifth: neither SYN nor RST set: drop the segment and return";

/// A segment of the peer's at IRS, with no flags and no ACK.
fn at_irs() -> Seg {
    seg().seq(P::Irs(0)).no_ack()
}

/// The peer's SYN-ACK `<SEQ=IRS><ACK=ISS+1><CTL=SYN,ACK>`.
fn syn_ack_in() -> Seg {
    syn().seq(P::Irs(0)).ack(P::Iss(1))
}

/// Our ACK of the SYN-ACK: `<SEQ=ISS+1><ACK=IRS+1+n><CTL=ACK>`.
fn our_ack(n: i32) -> Out {
    ack(P::Iss(1), P::Irs(1 + n))
}

#[test]
fn syn_sent() {
    let rows = [
        // First: the ACK bit.
        row(
            "SYN-ACK acknowledging ISS (nothing new)",
            FIRST,
            syn_ack_in().ack(P::Iss(0)),
            to(SynSent).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
        row(
            "SYN-ACK acknowledging an old ISS",
            FIRST,
            syn_ack_in().ack(P::Iss(-100_000)),
            to(SynSent).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
        row(
            "SYN-ACK ahead of SND.NXT",
            FIRST,
            syn_ack_in().ack(P::Iss(2)),
            to(SynSent).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
        row(
            "ACK without SYN, unacceptable",
            FIRST,
            at_irs().ack(P::Iss(7)).len(10),
            to(SynSent).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
        row(
            "RST with an unacceptable ACK",
            FIRST_RST,
            rst().seq(P::Irs(0)).ack(P::Iss(7)),
            to(SynSent).drop(BadAck),
        ),
        // Second: the RST bit.
        row(
            "RST acknowledging our SYN",
            SECOND_ACKED,
            rst().seq(P::Irs(0)).ack(P::Iss(1)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST acknowledging our SYN, any sequence number",
            SECOND_ACKED,
            rst().seq(P::Zero).ack(P::Iss(1)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST without ACK",
            SECOND_NO_ACK,
            rst().seq(P::Irs(0)),
            to(SynSent).drop(RstNotExact),
        ),
        // Fourth: the SYN bit.
        row(
            "SYN-ACK acknowledging our SYN",
            FOURTH_ACKED,
            syn_ack_in(),
            to(Established)
                .event(Event::Established)
                .reply(our_ack(0))
                .then(After::SndUna(P::Iss(1)))
                .then(After::RcvNxt(P::Irs(1))),
        ),
        row(
            "SYN-ACK with data",
            FOURTH_TEXT,
            syn_ack_in().len(100),
            to(Established)
                .event(Event::Established)
                .delivered(100)
                .reply(our_ack(100))
                .then(After::RcvNxt(P::Irs(101))),
        ),
        row(
            "SYN without ACK (simultaneous open)",
            FOURTH_SIMUL,
            syn().seq(P::Irs(0)),
            to(SynReceived).reply(syn_ack().acking(P::Irs(1))),
        ),
        row(
            "SYN without ACK, with data (not kept)",
            "RFC 9293 §3.10.7.3 fourth: \"queue them for processing after the ESTABLISHED state has been reached\" -- dropped, as Linux; the peer sends them again",
            syn().seq(P::Irs(0)).len(100),
            to(SynReceived).reply(syn_ack().acking(P::Irs(1))),
        ),
        // Fifth: neither SYN nor RST.
        row(
            "ACK of our SYN without SYN",
            FIFTH,
            at_irs().ack(P::Iss(1)),
            to(SynSent).drop(BadAck),
        ),
        row(
            "data acknowledging our SYN, without SYN",
            FIFTH,
            at_irs().ack(P::Iss(1)).len(100),
            to(SynSent).drop(BadAck),
        ),
        row("data without ACK", FIFTH, at_irs().len(100), to(SynSent).drop(BadAck)),
        row(
            "FIN acknowledging our SYN",
            FIFTH,
            fin().seq(P::Irs(0)).ack(P::Iss(1)),
            to(SynSent).drop(BadAck),
        ),
    ];
    run_table("SYN-SENT", &Fx::syn_sent(), &rows);
}

/// RFC 9293 §3.10.7.3 fourth, "form an ACK segment ... and send it": the
/// transition owes the ACK (`AckOwed`, `recv/ack.rs`) and puts nothing in
/// `Transition::replies`; `State::poll_ack` builds it once. The
/// simultaneous open's SYN-ACK is not owed: SYN-RECEIVED sends it in the
/// transition itself.
#[test]
fn syn_ack_owes_the_ack_simultaneous_open_sends_the_syn_ack() {
    let iss = SeqNum::new(ISS);
    let irs = SeqNum::new(IRS);

    let mut fx = Fx::syn_sent();
    let o = fx.arrive(&syn_ack_in());
    assert_eq!(o.state.name(), Established);
    assert!(o.replies.is_empty(), "the ACK is owed, not built: {o:?}");
    let a = fx.poll_ack().expect("the owed ACK");
    assert_eq!(
        (a.seq, a.ack, a.control, a.len),
        (iss + 1, Some(irs + 1), TcpControl::None, 0)
    );
    assert_eq!(fx.poll_ack(), None, "owed once");

    let mut fx = Fx::syn_sent();
    let o = fx.arrive(&syn().seq(P::Irs(0)));
    assert_eq!(o.state.name(), SynReceived);
    let r: Vec<_> = o
        .replies
        .iter()
        .map(|r| (r.seq, r.ack, r.control))
        .collect();
    assert_eq!(r, vec![(iss, Some(irs + 1), TcpControl::Syn)]);
    assert_eq!(fx.poll_ack(), None, "nothing owed besides");
}
