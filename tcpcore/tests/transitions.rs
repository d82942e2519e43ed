//! Transition tables for SYN-RECEIVED and ESTABLISHED (issue #15, Tests):
//! rows of (state, segment) -> (next state, segments sent, events, drop
//! reason, bytes delivered), each citing its RFC rule, calling
//! `State::on_segment` directly. FIN-WAIT-1 to TIME-WAIT are in
//! `transitions_closing.rs` and `transitions_time_wait.rs`, the timers and
//! the application's calls in `transitions_timers.rs`.
//! The fixtures and the row runner are in `transitions/mod.rs`.

#[path = "transitions/mod.rs"]
mod table;

use table::*;
use tcpcore::conn::SegmentDrop::*;
use tcpcore::{CloseReason, Event, StateName::*};

const FIRST: &str =
    "RFC 9293 §3.10.7.4 first: unacceptable segment, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and drop";
const RST_EXACT: &str = "RFC 9293 §3.10.7.4 second / RFC 5961 §3.2: RST at RCV.NXT resets";
const RST_IN: &str =
    "RFC 9293 §3.10.7.4 second / RFC 5961 §3.2: RST in the window, not at RCV.NXT: challenge ACK";
const RST_OUT: &str =
    "RFC 9293 §3.10.7.4 second / RFC 5961 §3.2: RST outside the window: silently drop";
const SYN_CHALLENGE: &str = "RFC 9293 §3.10.7.4 fourth / RFC 5961 §4.2: SYN in a synchronized state, challenge ACK whatever its sequence number";
const NO_ACK: &str = "RFC 9293 §3.10.7.4 fifth: if the ACK bit is off, drop the segment and return";
const ACK_AHEAD: &str =
    "RFC 9293 §3.10.7.4 fifth / RFC 5961 §5.2: SEG.ACK > SND.NXT, send an ACK and drop";
const ACK_TOO_OLD: &str = "RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND, send an ACK and drop";
const ACK_DUP: &str = "RFC 9293 §3.10.7.4 fifth: SEG.ACK =< SND.UNA, a duplicate, ignored";
const ACK_NEW: &str = "RFC 9293 §3.10.7.4 fifth: SND.UNA < SEG.ACK =< SND.NXT, SND.UNA <- SEG.ACK";
const TEXT: &str = "RFC 9293 §3.10.7.4 seventh: deliver the text, advance RCV.NXT; the ACK may be delayed (§3.8.6.3)";
const OOO: &str = "RFC 9293 §3.10.7.4 first (SHLD-31) / RFC 5681 §4.2: out-of-order data is held and draws an immediate duplicate ACK";
const FIN_IN: &str = "RFC 9293 §3.10.7.4 eighth: FIN, advance RCV.NXT over it, ACK it, signal the user, enter CLOSE-WAIT";
const FIN_OOO: &str = "RFC 9293 §3.10.7.4 eighth / RFC 5681 §4.2: a FIN beyond RCV.NXT is not yet processed; duplicate ACK";
const PAWS: &str = "RFC 7323 §5.3 R1: TSval < TS.Recent, not a RST: unacceptable, ACK and drop";
const PAWS_RST: &str = "RFC 7323 §5.3 R1: PAWS does not apply to a RST";

#[test]
fn syn_received() {
    let rows = [
        row(
            "handshake ACK",
            "RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT, enter ESTABLISHED",
            seg().ack(P::SndNxt(0)),
            to(Established)
                .event(Event::Established)
                .then(After::SndUna(P::SndNxt(0))),
        ),
        row(
            "handshake ACK with data",
            "RFC 9293 §3.10.7.4 fifth then seventh: enter ESTABLISHED, continue processing the text",
            seg().ack(P::SndNxt(0)).len(100),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(Established)
                .event(Event::Established)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::RcvNxt(P::RcvNxt(100))),
        ),
        row(
            "handshake ACK with data and FIN",
            "RFC 9293 §3.10.7.4 fifth, seventh, eighth: ESTABLISHED, the text, then the FIN: CLOSE-WAIT",
            fin().ack(P::SndNxt(0)).len(100),
            to(CloseWait)
                .event(Event::Established)
                .event(Event::PeerClosed)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(101))),
        ),
        row(
            "handshake ACK with an out-of-order FIN",
            FIN_OOO,
            fin().ack(P::SndNxt(0)).seq(P::RcvNxt(50)),
            to(Established)
                .event(Event::Established)
                .reply(challenge()),
        ),
        row(
            "ACK of nothing (SEG.ACK = SND.UNA = ISS)",
            "RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: acknowledgment not acceptable, <SEQ=SEG.ACK><CTL=RST>",
            seg().ack(P::SndUna(0)),
            to(SynReceived).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
        row(
            "ACK ahead of SND.NXT",
            "RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: acknowledgment not acceptable, <SEQ=SEG.ACK><CTL=RST>",
            seg().ack(P::SndNxt(1)),
            to(SynReceived).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
        row(
            "data without ACK",
            NO_ACK,
            seg().no_ack().len(100),
            to(SynReceived).drop(BadAck),
        ),
        row("bare segment without ACK", NO_ACK, seg().no_ack(), to(SynReceived).drop(BadAck)),
        row(
            "RST at RCV.NXT",
            "RFC 9293 §3.10.7.4 second, SYN-RECEIVED: passive OPEN, return to LISTEN (the connection ends)",
            rst(),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST+ACK at RCV.NXT",
            "RFC 9293 §3.10.7.4 second, SYN-RECEIVED: passive OPEN, return to LISTEN (the connection ends)",
            rst().ack(P::SndNxt(0)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(SynReceived).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(SynReceived).drop(OutOfWindow),
        ),
        row(
            "RST below RCV.NXT",
            RST_OUT,
            rst().seq(P::RcvNxt(-1)),
            to(SynReceived).drop(OutOfWindow),
        ),
        row(
            "retransmitted SYN (SEG.SEQ = IRS)",
            "RFC 9293 §3.10.7.4 first (unacceptable, answered) as Linux tcp_check_req: the SYN-ACK again",
            syn().seq(P::Irs(0)),
            to(SynReceived).reply(syn_ack()),
        ),
        row(
            "new SYN in the window",
            "RFC 9293 §3.10.7.4 fourth, SYN-RECEIVED: passive OPEN, return to LISTEN, nothing sent",
            syn().seq(P::RcvNxt(10)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "SYN-ACK in the window",
            "RFC 9293 §3.10.7.4 fourth, SYN-RECEIVED: passive OPEN, return to LISTEN, nothing sent",
            syn().ack(P::SndNxt(0)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "SYN below the window",
            FIRST,
            syn().seq(P::Irs(-1000)),
            to(SynReceived).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "SYN beyond the window",
            FIRST,
            syn().seq(P::RcvRight(0)),
            to(SynReceived).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "data beyond the window",
            FIRST,
            seg().ack(P::SndNxt(0)).seq(P::RcvRight(0)).len(100),
            to(SynReceived).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "old data below RCV.NXT",
            FIRST,
            seg().ack(P::SndNxt(0)).seq(P::RcvNxt(-100)).len(100),
            to(SynReceived).reply(challenge()).drop(OutOfWindow),
        ),
    ];
    run_table("SYN-RECEIVED", &Fx::syn_received(PLAIN), &rows);
}

#[test]
fn syn_received_after_a_duplicate_syn() {
    // The retransmitted SYN was answered 100 ms ago.
    let mut fx = Fx::syn_received(PLAIN);
    let o = fx.feed(&syn().seq(P::Irs(0)));
    assert_eq!(o.replies.len(), 1, "the first duplicate SYN is answered");
    fx.wait(tcpcore::Duration::from_millis(100));
    let rows = [
        row(
            "retransmitted SYN within the debounce interval",
            "RFC 5961 §7 / Linux tcp_oow_rate_limited: further duplicates are answered at most once per Config::syn_debounce (500 ms)",
            syn().seq(P::Irs(0)),
            to(SynReceived),
        ),
        row(
            "handshake ACK",
            "RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: enter ESTABLISHED (RFC 6298 §3 Karn: no RTT sample, CONFORMANCE.md D5)",
            seg().ack(P::SndNxt(0)),
            to(Established).event(Event::Established),
        ),
    ];
    run_table("SYN-RECEIVED (duplicate SYN answered)", &fx, &rows);
}

#[test]
fn syn_received_timestamps() {
    let rows = [
        row(
            "handshake ACK, fresh TSval",
            "RFC 7323 §4.3: TS.Recent <- SEG.TSval when SEG.SEQ =< Last.ACK.sent",
            seg().ack(P::SndNxt(0)),
            to(Established)
                .event(Event::Established)
                .then(After::TsRecent(Ts::Fresh)),
        ),
        row(
            "handshake ACK without TSopt",
            "RFC 7323 §3.2 SHOULD drop; CONFORMANCE.md: differs on purpose, accepted as Linux",
            seg().ack(P::SndNxt(0)).ts(Ts::Absent),
            to(Established)
                .event(Event::Established)
                .then(After::TsRecent(Ts::Same)),
        ),
        row(
            "handshake ACK, PAWS-old",
            PAWS,
            seg().ack(P::SndNxt(0)).ts(Ts::Old),
            to(SynReceived).reply(challenge()).drop(Paws),
        ),
        row(
            "SYN in the window, PAWS-old",
            PAWS,
            syn().seq(P::RcvNxt(10)).ts(Ts::Old),
            to(SynReceived).reply(challenge()).drop(Paws),
        ),
        row(
            "RST at RCV.NXT, PAWS-old",
            PAWS_RST,
            rst().ts(Ts::Old),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "retransmitted SYN",
            "Linux tcp_check_req: the SYN-ACK again, with TSopt (RFC 7323 §3.2)",
            syn().seq(P::Irs(0)).ts(Ts::Same),
            to(SynReceived).reply(syn_ack()),
        ),
        row(
            "bad ACK",
            "RFC 9293 §3.10.7.4 fifth: <SEQ=SEG.ACK><CTL=RST>, TSopt on it (RFC 7323 §3.2 SHOULD)",
            seg().ack(P::SndNxt(5)),
            to(SynReceived).reply(rst_out(P::SegAck)).drop(BadAck),
        ),
    ];
    run_table(
        "SYN-RECEIVED (TS, SACK, WS)",
        &Fx::syn_received(FULL),
        &rows,
    );
}

#[test]
fn established() {
    let rows = [
        row(
            "RST at RCV.NXT",
            RST_EXACT,
            rst(),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST+ACK at RCV.NXT",
            RST_EXACT,
            rst().ack(P::SndUna(0)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST+ACK at RCV.NXT, ACK ahead of SND.NXT",
            "RFC 9293 §3.10.7.4: the RST (second) is processed before the ACK field (fifth)",
            rst().ack(P::SndNxt(1)),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(Established).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at the last byte of the window",
            RST_IN,
            rst().seq(P::RcvRight(-1)),
            to(Established).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(Established).drop(OutOfWindow),
        ),
        row(
            "RST below RCV.NXT",
            RST_OUT,
            rst().seq(P::RcvNxt(-1)),
            to(Established).drop(OutOfWindow),
        ),
        row(
            "SYN in the window",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(10)),
            to(Established).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "SYN below the window",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(-5000)),
            to(Established).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "SYN beyond the window",
            SYN_CHALLENGE,
            syn().seq(P::RcvRight(10)),
            to(Established).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "SYN-ACK",
            SYN_CHALLENGE,
            syn().ack(P::SndUna(0)),
            to(Established).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "ACK of part of the data",
            ACK_NEW,
            seg().ack(P::SndUna(100)),
            to(Established).then(After::SndUna(P::SndUna(100))),
        ),
        row(
            "ACK of all the data",
            ACK_NEW,
            seg().ack(P::SndNxt(0)),
            to(Established).then(After::SndUna(P::SndNxt(0))),
        ),
        row(
            "duplicate ACK",
            ACK_DUP,
            seg(),
            to(Established).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "old ACK within MAX.SND.WND",
            ACK_DUP,
            seg().ack(P::SndUna(-100)),
            to(Established).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "old ACK at SND.UNA - MAX.SND.WND",
            "RFC 5961 §5.2: SND.UNA - MAX.SND.WND =< SEG.ACK is acceptable (a duplicate, ignored)",
            seg().ack(P::UnaLessMaxWnd(0)),
            to(Established).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "ACK older than SND.UNA - MAX.SND.WND",
            ACK_TOO_OLD,
            seg().ack(P::UnaLessMaxWnd(-1)),
            to(Established).reply(challenge()).drop(BadAck),
        ),
        row(
            "ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)),
            to(Established).reply(challenge()).drop(BadAck),
        ),
        row(
            "data with an ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)).len(100),
            to(Established).reply(challenge()).drop(BadAck),
        ),
        row(
            "data without ACK",
            NO_ACK,
            seg().no_ack().len(100),
            to(Established).drop(BadAck),
        ),
        row("bare segment without ACK", NO_ACK, seg().no_ack(), to(Established).drop(BadAck)),
        row("FIN without ACK", NO_ACK, fin().no_ack(), to(Established).drop(BadAck)),
        row(
            "data in order",
            TEXT,
            seg().len(100),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(Established)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::RcvNxt(P::RcvNxt(100))),
        ),
        row(
            "two full-sized segments in order",
            "RFC 9293 §3.8.6.3 / RFC 5681 §4.2 (SHLD-19): an ACK for at least every second full-sized segment",
            seg().len(2 * 1460),
            to(Established)
                .delivered(2 * 1460)
                .reply(ack(P::SndNxt(0), P::RcvNxt(2 * 1460))),
        ),
        row(
            "data out of order",
            OOO,
            seg().seq(P::RcvNxt(100)).len(100),
            to(Established)
                .reply(challenge())
                .then(After::RcvNxt(P::RcvNxt(0))),
        ),
        row(
            "data straddling RCV.NXT",
            "RFC 9293 §3.10.7.4 first: only the new part of a segment overlapping RCV.NXT is processed",
            seg().seq(P::RcvNxt(-50)).len(100),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(Established)
                .delivered(50)
                .reply(ack(P::SndNxt(0), P::RcvNxt(50)))
                .then(After::RcvNxt(P::RcvNxt(50))),
        ),
        row(
            "old duplicate data",
            FIRST,
            seg().seq(P::RcvNxt(-100)).len(100),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "data beyond the window",
            FIRST,
            seg().seq(P::RcvRight(0)).len(100),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "bare ACK beyond the window",
            FIRST,
            seg().seq(P::RcvRight(0)),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "bare ACK at the last sequence number of the window",
            "RFC 9293 §3.10.7.4 first: zero length, RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND is acceptable",
            seg().seq(P::RcvRight(-1)),
            to(Established),
        ),
        row(
            "keep-alive (SEG.SEQ = RCV.NXT - 1)",
            "RFC 9293 §3.8.4 / §3.10.7.4 first: unacceptable, answered with an ACK",
            seg().seq(P::RcvNxt(-1)),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "FIN in order",
            FIN_IN,
            fin(),
            to(CloseWait)
                .event(Event::PeerClosed)
                .reply(ack(P::SndNxt(0), P::RcvNxt(1))),
        ),
        row(
            "data and FIN in order",
            FIN_IN,
            fin().len(100),
            to(CloseWait)
                .event(Event::PeerClosed)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(101))),
        ),
        row(
            "FIN out of order",
            FIN_OOO,
            fin().seq(P::RcvNxt(100)),
            to(Established).reply(challenge()),
        ),
        row(
            "data and FIN out of order",
            FIN_OOO,
            fin().seq(P::RcvNxt(100)).len(100),
            to(Established).reply(challenge()),
        ),
        row(
            "old FIN (SEG.SEQ = RCV.NXT - 1)",
            FIRST,
            fin().seq(P::RcvNxt(-1)),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "FIN beyond the window",
            FIRST,
            fin().seq(P::RcvRight(0)),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
    ];
    run_table("ESTABLISHED", &Fx::established(PLAIN), &rows);
}

#[test]
fn established_zero_window() {
    const ZERO: &str = "RFC 9293 §3.10.7.4 first: RCV.WND = 0, only a zero-length segment at RCV.NXT is acceptable";
    const VALID_ACKS: &str =
        "RFC 9293 §3.10.7.4 first: with RCV.WND = 0, special allowance to accept valid ACKs";
    let rows = [
        row(
            "data at RCV.NXT",
            ZERO,
            seg().len(100),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "data at RCV.NXT with a new ACK",
            VALID_ACKS,
            seg().ack(P::SndUna(100)).len(100),
            to(Established)
                .reply(challenge())
                .drop(OutOfWindow)
                .then(After::SndUna(P::SndUna(100))),
        ),
        row(
            "bare ACK at RCV.NXT with a new ACK",
            ZERO,
            seg().ack(P::SndUna(100)),
            to(Established).then(After::SndUna(P::SndUna(100))),
        ),
        row(
            "bare ACK past RCV.NXT",
            ZERO,
            seg().seq(P::RcvNxt(1)),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "RST at RCV.NXT",
            "RFC 9293 §3.10.7.4 first (MUST-66): RSTs are processed with a zero window",
            rst(),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "RST past RCV.NXT",
            RST_OUT,
            rst().seq(P::RcvNxt(1)),
            to(Established).drop(OutOfWindow),
        ),
        row(
            "bare FIN at RCV.NXT",
            "RFC 9293 §3.10.7.4 first: a FIN occupies a sequence number, not acceptable with RCV.WND = 0 (CONFORMANCE.md: Linux differs)",
            fin(),
            to(Established).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "SYN",
            SYN_CHALLENGE,
            syn(),
            to(Established).reply(challenge()).drop(UnexpectedSyn),
        ),
    ];
    run_table(
        "ESTABLISHED (zero window)",
        &Fx::established_zero_window(PLAIN),
        &rows,
    );
}

#[test]
fn established_timestamps_sack() {
    let rows = [
        row(
            "PAWS-old bare ACK",
            PAWS,
            seg().ts(Ts::Old),
            to(Established)
                .reply(challenge())
                .drop(Paws)
                .then(After::TsRecent(Ts::Same)),
        ),
        row(
            "PAWS-old data",
            PAWS,
            seg().len(100).ts(Ts::Old),
            to(Established).reply(challenge()).drop(Paws),
        ),
        row(
            "PAWS-old FIN",
            PAWS,
            fin().ts(Ts::Old),
            to(Established).reply(challenge()).drop(Paws),
        ),
        row(
            "PAWS-old RST at RCV.NXT",
            PAWS_RST,
            rst().ts(Ts::Old),
            to(Closed).event(Event::Closed(CloseReason::Reset)),
        ),
        row(
            "PAWS-old SYN",
            SYN_CHALLENGE,
            syn().ts(Ts::Old),
            to(Established).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "TSval equal to TS.Recent",
            "RFC 7323 §5.3 R1: only SEG.TSval < TS.Recent fails PAWS",
            seg().len(100).ts(Ts::Same),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(Established)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::TsRecent(Ts::Same)),
        ),
        row(
            "data in order, fresh TSval",
            "RFC 7323 §4.3: TS.Recent <- SEG.TSval when SEG.SEQ =< Last.ACK.sent",
            seg().len(100),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(Established)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::TsRecent(Ts::Fresh)),
        ),
        row(
            "data without TSopt",
            "RFC 7323 §3.2 SHOULD drop; CONFORMANCE.md: differs on purpose, accepted as Linux",
            seg().len(100).ts(Ts::Absent),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(Established)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::TsRecent(Ts::Same)),
        ),
        row(
            "data beyond the window, fresh TSval",
            "RFC 7323 §4.3: an unacceptable segment does not update TS.Recent",
            seg().seq(P::RcvRight(0)).len(100),
            to(Established)
                .reply(challenge())
                .drop(OutOfWindow)
                .then(After::TsRecent(Ts::Same)),
        ),
        row(
            "data out of order",
            "RFC 2018 §4: the duplicate ACK's first SACK block is the segment just received",
            seg().seq(P::RcvNxt(100)).len(100),
            to(Established).reply(challenge().sack(P::RcvNxt(100), P::RcvNxt(200))),
        ),
        row(
            "FIN in order",
            FIN_IN,
            fin(),
            to(CloseWait)
                .event(Event::PeerClosed)
                .reply(ack(P::SndNxt(0), P::RcvNxt(1))),
        ),
    ];
    run_table("ESTABLISHED (TS, SACK, WS)", &Fx::established(FULL), &rows);
}
