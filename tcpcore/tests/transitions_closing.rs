//! Transition tables for FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING and
//! LAST-ACK (issue #15, Tests): rows of (state, segment) -> (next state,
//! segments sent, events, drop reason, bytes delivered), each citing its
//! RFC rule, calling `State::on_segment` directly. TIME-WAIT and CLOSED
//! are in `transitions_time_wait.rs`; the fixtures and the runner in
//! `transitions/mod.rs`.
//!
//! The fixtures: FIN-WAIT-1 has 300 bytes of data and our FIN in flight;
//! FIN-WAIT-2 was entered one second before the row; CLOSE-WAIT has 300
//! bytes in flight; LAST-ACK has them and our FIN; CLOSING has only our
//! FIN unacknowledged.

#[path = "transitions/mod.rs"]
mod table;

use table::*;
use tcpcore::conn::SegmentDrop::*;
use tcpcore::{CloseReason, Duration, Event, StateName::*};

const FIRST: &str =
    "RFC 9293 §3.10.7.4 first: unacceptable segment, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and drop";
const RST_EXACT: &str = "RFC 9293 §3.10.7.4 second / RFC 5961 §3.2: RST at RCV.NXT, enter CLOSED";
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
const TEXT: &str =
    "RFC 9293 §3.10.7.4 seventh (FIN-WAIT-1, FIN-WAIT-2): process the text as in ESTABLISHED";
const OOO: &str = "RFC 9293 §3.10.7.4 first (SHLD-31) / RFC 5681 §4.2: out-of-order data is held, immediate duplicate ACK";
const FIN_OOO: &str = "RFC 9293 §3.10.7.4 eighth / RFC 5681 §4.2: a FIN beyond RCV.NXT is not yet processed; duplicate ACK";
const PAWS: &str = "RFC 7323 §5.3 R1: TSval < TS.Recent, not a RST: unacceptable, ACK and drop";
const AFTER_FIN: &str = "RFC 9293 §3.10.7.4 seventh/eighth after the peer's FIN: nothing more may arrive, the text is ignored (unacceptable with the window taken as zero)";
const SYN_PAWS: &str = "RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK \"irrespective of the sequence number\" -- and of PAWS (RFC 7323 §5.3 R1 would only ACK and drop it too); counted as an unexpected SYN, TS.Recent kept (current Linux tcp_validate_incoming: a SYN failing PAWS goes to syn_challenge)";
const FIN_AGAIN: &str = "RFC 9293 §3.10.7.4 first and eighth: a retransmitted FIN (below RCV.NXT) is acknowledged, the state remains";

fn reset() -> Expect {
    to(Closed).event(Event::Closed(CloseReason::Reset))
}

#[test]
fn fin_wait_1() {
    let rows = [
        row(
            "ACK of the data, not of our FIN",
            "RFC 9293 §3.10.7.4 fifth, FIN-WAIT-1: our FIN not yet acknowledged, remain",
            seg().ack(P::SndNxt(-1)),
            to(FinWait1).then(After::SndUna(P::SndNxt(-1))),
        ),
        row(
            "ACK of our FIN",
            "RFC 9293 §3.10.7.4 fifth, FIN-WAIT-1: if the FIN segment is now acknowledged, enter FIN-WAIT-2",
            seg().ack(P::SndNxt(0)),
            to(FinWait2)
                .then(After::SndUna(P::SndNxt(0)))
                .then(After::Deadline(Duration::from_secs(60))),
        ),
        row(
            "FIN acknowledging our FIN",
            "RFC 9293 §3.10.7.4 eighth, FIN-WAIT-1: FIN and our FIN ACKed (in this segment): TIME-WAIT, start the time-wait timer",
            fin().ack(P::SndNxt(0)),
            to(TimeWait)
                .event(Event::PeerClosed)
                .reply(ack(P::SndNxt(0), P::RcvNxt(1)))
                .then(After::Deadline(Duration::from_secs(60))),
        ),
        row(
            "data and FIN acknowledging our FIN",
            "RFC 9293 §3.10.7.4 seventh and eighth, FIN-WAIT-1: the text, then TIME-WAIT",
            fin().ack(P::SndNxt(0)).len(100),
            to(TimeWait)
                .event(Event::PeerClosed)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(101))),
        ),
        row(
            "FIN not acknowledging our FIN",
            "RFC 9293 §3.10.7.4 eighth, FIN-WAIT-1: our FIN not ACKed, enter CLOSING",
            fin(),
            to(Closing)
                .event(Event::PeerClosed)
                .reply(ack(P::SndNxt(0), P::RcvNxt(1))),
        ),
        row(
            "FIN acknowledging the data only",
            "RFC 9293 §3.10.7.4 eighth, FIN-WAIT-1: our FIN not ACKed, enter CLOSING",
            fin().ack(P::SndNxt(-1)),
            to(Closing)
                .event(Event::PeerClosed)
                .reply(ack(P::SndNxt(0), P::RcvNxt(1)))
                .then(After::SndUna(P::SndNxt(-1))),
        ),
        row(
            "data in order",
            TEXT,
            seg().len(100),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(FinWait1)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::RcvNxt(P::RcvNxt(100))),
        ),
        row(
            "data out of order",
            OOO,
            seg().seq(P::RcvNxt(100)).len(100),
            to(FinWait1).reply(challenge()),
        ),
        row(
            "FIN out of order",
            FIN_OOO,
            fin().seq(P::RcvNxt(100)),
            to(FinWait1).reply(challenge()),
        ),
        row("RST at RCV.NXT", RST_EXACT, rst(), reset()),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(FinWait1).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(FinWait1).drop(OutOfWindow),
        ),
        row(
            "SYN in the window",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(10)),
            to(FinWait1).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "SYN below the window",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(-5000)),
            to(FinWait1).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "duplicate ACK",
            ACK_DUP,
            seg(),
            to(FinWait1).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)),
            to(FinWait1).reply(challenge()).drop(BadAck),
        ),
        row(
            "ACK older than SND.UNA - MAX.SND.WND",
            ACK_TOO_OLD,
            seg().ack(P::UnaLessMaxWnd(-1)),
            to(FinWait1).reply(challenge()).drop(BadAck),
        ),
        row("data without ACK", NO_ACK, seg().no_ack().len(100), to(FinWait1).drop(BadAck)),
        row("FIN without ACK", NO_ACK, fin().no_ack(), to(FinWait1).drop(BadAck)),
        row(
            "data beyond the window",
            FIRST,
            seg().seq(P::RcvRight(0)).len(100),
            to(FinWait1).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "old duplicate data",
            FIRST,
            seg().seq(P::RcvNxt(-100)).len(100),
            to(FinWait1).reply(challenge()).drop(OutOfWindow),
        ),
    ];
    run_table("FIN-WAIT-1", &Fx::fin_wait_1(PLAIN), &rows);
}

#[test]
fn fin_wait_2() {
    // Entered one second ago: a segment that is dropped leaves the
    // FIN-WAIT-2 deadline at 59 s from now, an acceptable one restarts it.
    let kept = After::Deadline(Duration::from_secs(59));
    let restarted = After::Deadline(Duration::from_secs(60));
    let rows = [
        row(
            "bare ACK",
            "RFC 9293 §3.10.7.4 fifth, FIN-WAIT-2: as ESTABLISHED; CONFORMANCE.md: every acceptable segment restarts the FIN-WAIT-2 timeout",
            seg(),
            to(FinWait2).then(restarted),
        ),
        row(
            "data in order",
            TEXT,
            seg().len(100),
            // Quick-ACK mode at the start of the connection (issue #16, Linux
            // tcp_incr_quickack): acknowledged at once, not after the delay.
            to(FinWait2)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                .then(After::RcvNxt(P::RcvNxt(100)))
                .then(restarted),
        ),
        row(
            "data out of order",
            OOO,
            seg().seq(P::RcvNxt(100)).len(100),
            to(FinWait2).reply(challenge()).then(restarted),
        ),
        row(
            "FIN",
            "RFC 9293 §3.10.7.4 eighth, FIN-WAIT-2: enter TIME-WAIT, start the time-wait timer",
            fin(),
            to(TimeWait)
                .event(Event::PeerClosed)
                .reply(ack(P::SndNxt(0), P::RcvNxt(1)))
                .then(After::Deadline(Duration::from_secs(60))),
        ),
        row(
            "data and FIN",
            "RFC 9293 §3.10.7.4 seventh and eighth, FIN-WAIT-2: the text, then TIME-WAIT",
            fin().len(100),
            to(TimeWait)
                .event(Event::PeerClosed)
                .delivered(100)
                .reply(ack(P::SndNxt(0), P::RcvNxt(101))),
        ),
        row(
            "FIN out of order",
            FIN_OOO,
            fin().seq(P::RcvNxt(100)),
            to(FinWait2).reply(challenge()),
        ),
        row("RST at RCV.NXT", RST_EXACT, rst(), reset()),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(FinWait2).reply(challenge()).drop(RstNotExact).then(kept),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(FinWait2).drop(OutOfWindow).then(kept),
        ),
        row(
            "SYN",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(10)),
            to(FinWait2).reply(challenge()).drop(UnexpectedSyn).then(kept),
        ),
        row(
            "duplicate ACK",
            ACK_DUP,
            seg().ack(P::SndNxt(-10)),
            to(FinWait2).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)),
            to(FinWait2).reply(challenge()).drop(BadAck).then(kept),
        ),
        row("data without ACK", NO_ACK, seg().no_ack().len(100), to(FinWait2).drop(BadAck).then(kept)),
        row("FIN without ACK", NO_ACK, fin().no_ack(), to(FinWait2).drop(BadAck).then(kept)),
        row(
            "data beyond the window",
            FIRST,
            seg().seq(P::RcvRight(0)).len(100),
            to(FinWait2).reply(challenge()).drop(OutOfWindow).then(kept),
        ),
        row(
            "old duplicate data",
            FIRST,
            seg().seq(P::RcvNxt(-100)).len(100),
            to(FinWait2).reply(challenge()).drop(OutOfWindow).then(kept),
        ),
    ];
    run_table("FIN-WAIT-2", &Fx::fin_wait_2(PLAIN), &rows);
}

#[test]
fn close_wait() {
    let rows = [
        row(
            "ACK of part of the data",
            "RFC 9293 §3.10.7.4 fifth, CLOSE-WAIT: same as ESTABLISHED",
            seg().ack(P::SndUna(100)),
            to(CloseWait).then(After::SndUna(P::SndUna(100))),
        ),
        row(
            "ACK of all the data",
            "RFC 9293 §3.10.7.4 fifth, CLOSE-WAIT: same as ESTABLISHED",
            seg().ack(P::SndNxt(0)),
            to(CloseWait).then(After::SndUna(P::SndNxt(0))),
        ),
        row(
            "duplicate ACK",
            ACK_DUP,
            seg(),
            to(CloseWait).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)),
            to(CloseWait).reply(challenge()).drop(BadAck),
        ),
        row(
            "ACK older than SND.UNA - MAX.SND.WND",
            ACK_TOO_OLD,
            seg().ack(P::UnaLessMaxWnd(-1)),
            to(CloseWait).reply(challenge()).drop(BadAck),
        ),
        row("bare segment without ACK", NO_ACK, seg().no_ack(), to(CloseWait).drop(BadAck)),
        row("RST at RCV.NXT", RST_EXACT, rst(), reset()),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(CloseWait).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at RCV.NXT - 1",
            "RFC 5961 §3.2: outside the window, silently drop (CONFORMANCE.md: Linux accepts RCV.NXT - 1)",
            rst().seq(P::RcvNxt(-1)),
            to(CloseWait).drop(OutOfWindow),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(CloseWait).drop(OutOfWindow),
        ),
        row(
            "SYN at RCV.NXT",
            SYN_CHALLENGE,
            syn(),
            to(CloseWait).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "SYN below the window",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(-5000)),
            to(CloseWait).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "new data at RCV.NXT",
            AFTER_FIN,
            seg().len(100),
            to(CloseWait).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "retransmitted FIN",
            FIN_AGAIN,
            fin().seq(P::RcvNxt(-1)),
            to(CloseWait).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "retransmitted data and FIN",
            FIN_AGAIN,
            fin().seq(P::RcvNxt(-101)).len(100),
            to(CloseWait).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "FIN at RCV.NXT",
            AFTER_FIN,
            fin(),
            to(CloseWait).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "bare ACK past RCV.NXT",
            FIRST,
            seg().seq(P::RcvNxt(10)),
            to(CloseWait).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "keep-alive (SEG.SEQ = RCV.NXT - 1)",
            FIRST,
            seg().seq(P::RcvNxt(-1)),
            to(CloseWait).reply(challenge()).drop(OutOfWindow),
        ),
    ];
    run_table("CLOSE-WAIT", &Fx::close_wait(PLAIN), &rows);
}

#[test]
fn closing() {
    let rows = [
        row(
            "ACK of our FIN",
            "RFC 9293 §3.10.7.4 fifth, CLOSING: the ACK acknowledges our FIN, enter TIME-WAIT",
            seg().ack(P::SndNxt(0)),
            to(TimeWait).then(After::Deadline(Duration::from_secs(60))),
        ),
        row(
            "duplicate ACK",
            "RFC 9293 §3.10.7.4 fifth, CLOSING: our FIN not acknowledged, ignore the segment",
            seg(),
            to(Closing).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)),
            to(Closing).reply(challenge()).drop(BadAck),
        ),
        row("bare segment without ACK", NO_ACK, seg().no_ack(), to(Closing).drop(BadAck)),
        row("RST at RCV.NXT", RST_EXACT, rst(), reset()),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(Closing).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(Closing).drop(OutOfWindow),
        ),
        row(
            "SYN",
            SYN_CHALLENGE,
            syn(),
            to(Closing).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "retransmitted FIN",
            "RFC 9293 §3.10.7.4 first and eighth, CLOSING: remain; the retransmission is acknowledged",
            fin().seq(P::RcvNxt(-1)),
            to(Closing).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "retransmitted FIN acknowledging our FIN",
            "RFC 9293 §3.10.7.4 first: unacceptable (SEG.SEQ+SEG.LEN-1 < RCV.NXT), so its ACK is not processed",
            fin().seq(P::RcvNxt(-1)).ack(P::SndNxt(0)),
            to(Closing).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "new data at RCV.NXT",
            AFTER_FIN,
            seg().len(100),
            to(Closing).reply(challenge()).drop(OutOfWindow),
        ),
    ];
    run_table("CLOSING", &Fx::closing(PLAIN), &rows);
}

#[test]
fn last_ack() {
    let rows = [
        row(
            "ACK of our FIN",
            "RFC 9293 §3.10.7.4 fifth, LAST-ACK: our FIN acknowledged, delete the TCB, enter CLOSED",
            seg().ack(P::SndNxt(0)),
            to(Closed).event(Event::Closed(CloseReason::Normal)),
        ),
        row(
            "ACK of the data only",
            "RFC 9293 §3.10.7.4 fifth, LAST-ACK: our FIN not yet acknowledged, remain",
            seg().ack(P::SndNxt(-1)),
            to(LastAck).then(After::SndUna(P::SndNxt(-1))),
        ),
        row(
            "duplicate ACK",
            ACK_DUP,
            seg(),
            to(LastAck).then(After::SndUna(P::SndUna(0))),
        ),
        row(
            "ACK ahead of SND.NXT",
            ACK_AHEAD,
            seg().ack(P::SndNxt(1)),
            to(LastAck).reply(challenge()).drop(BadAck),
        ),
        row(
            "ACK older than SND.UNA - MAX.SND.WND",
            ACK_TOO_OLD,
            seg().ack(P::UnaLessMaxWnd(-1)),
            to(LastAck).reply(challenge()).drop(BadAck),
        ),
        row("bare segment without ACK", NO_ACK, seg().no_ack(), to(LastAck).drop(BadAck)),
        row("RST at RCV.NXT", RST_EXACT, rst(), reset()),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(LastAck).reply(challenge()).drop(RstNotExact),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(LastAck).drop(OutOfWindow),
        ),
        row(
            "SYN",
            SYN_CHALLENGE,
            syn().seq(P::RcvNxt(-5000)),
            to(LastAck).reply(challenge()).drop(UnexpectedSyn),
        ),
        row(
            "retransmitted FIN",
            "RFC 9293 §3.10.7.4 first and eighth, LAST-ACK: remain; the retransmission is acknowledged",
            fin().seq(P::RcvNxt(-1)),
            to(LastAck).reply(challenge()).drop(OutOfWindow),
        ),
        row(
            "new data at RCV.NXT",
            AFTER_FIN,
            seg().len(100),
            to(LastAck).reply(challenge()).drop(OutOfWindow),
        ),
    ];
    run_table("LAST-ACK", &Fx::last_ack(PLAIN), &rows);
}

#[test]
fn half_closed_timestamps() {
    for (name, fx, state) in [
        ("CLOSE-WAIT (TS)", Fx::close_wait(FULL), CloseWait),
        ("CLOSING (TS)", Fx::closing(FULL), Closing),
        ("LAST-ACK (TS)", Fx::last_ack(FULL), LastAck),
    ] {
        let rows = [
            row(
                "PAWS-old ACK",
                PAWS,
                seg().ts(Ts::Old),
                to(state)
                    .reply(challenge())
                    .drop(Paws)
                    .then(After::TsRecent(Ts::Same)),
            ),
            row(
                "PAWS-old ACK of everything",
                PAWS,
                seg().ack(P::SndNxt(0)).ts(Ts::Old),
                to(state)
                    .reply(challenge())
                    .drop(Paws)
                    .then(After::SndUna(P::SndUna(0))),
            ),
            row(
                "PAWS-old RST at RCV.NXT",
                "RFC 7323 §5.3 R1: PAWS does not apply to a RST",
                rst().ts(Ts::Old),
                reset(),
            ),
            row(
                "duplicate ACK, fresh TSval",
                "RFC 7323 §4.3: TS.Recent <- SEG.TSval when SEG.SEQ =< Last.ACK.sent (CONFORMANCE.md D6, fixed)",
                seg(),
                to(state).then(After::TsRecent(Ts::Fresh)),
            ),
            row(
                "retransmitted FIN, PAWS-old",
                PAWS,
                fin().seq(P::RcvNxt(-1)).ts(Ts::Old),
                to(state).reply(challenge()).drop(Paws),
            ),
            row(
                "PAWS-old SYN at RCV.NXT",
                SYN_PAWS,
                syn().ts(Ts::Old),
                to(state)
                    .reply(challenge())
                    .drop(UnexpectedSyn)
                    .then(After::TsRecent(Ts::Same))
                    .then(After::SndUna(P::SndUna(0))),
            ),
            row(
                "PAWS-old SYN below the window",
                SYN_PAWS,
                syn().seq(P::RcvNxt(-5000)).ts(Ts::Old),
                to(state)
                    .reply(challenge())
                    .drop(UnexpectedSyn)
                    .then(After::TsRecent(Ts::Same)),
            ),
            row(
                "PAWS-old SYN-ACK acknowledging everything",
                SYN_PAWS,
                syn().ack(P::SndNxt(0)).ts(Ts::Old),
                to(state)
                    .reply(challenge())
                    .drop(UnexpectedSyn)
                    .then(After::SndUna(P::SndUna(0))),
            ),
        ];
        run_table(name, &fx, &rows);
    }
}

/// A PAWS-old SYN after the peer's FIN spends the RFC 5961 §7
/// challenge-ACK budget like any other challenge: once
/// `challenge_acks_per_sec` are sent within a second, the next is dropped
/// without an ACK (still counted as an unexpected SYN, the state kept);
/// a second later the budget is back.
#[test]
fn half_closed_paws_old_syn_challenge_budget() {
    for (name, mut fx, state) in [
        (
            "CLOSE-WAIT (TS, budget spent)",
            Fx::close_wait(FULL),
            CloseWait,
        ),
        ("CLOSING (TS, budget spent)", Fx::closing(FULL), Closing),
        ("LAST-ACK (TS, budget spent)", Fx::last_ack(FULL), LastAck),
    ] {
        let budget = usize::from(fx.cfg.challenge_acks_per_sec);
        assert!(budget > 0, "{name}: the default has a budget");
        let mut acks = 0;
        for _ in 0..budget {
            let o = fx.feed(&syn().ts(Ts::Old));
            assert_eq!(o.state.name(), state, "{name}");
            assert_eq!(o.dropped, Some(UnexpectedSyn), "{name}");
            acks += o.replies.len();
        }
        assert_eq!(
            acks, budget,
            "{name}: one challenge ACK each, up to the budget"
        );
        let spent = [row(
            "PAWS-old SYN, budget spent",
            SYN_PAWS,
            syn().ts(Ts::Old),
            to(state)
                .drop(UnexpectedSyn)
                .then(After::TsRecent(Ts::Same)),
        )];
        run_table(name, &fx, &spent);
        fx.wait(Duration::from_secs(1));
        let refilled = [row(
            "PAWS-old SYN, a second later",
            SYN_PAWS,
            syn().ts(Ts::Old),
            to(state).reply(challenge()).drop(UnexpectedSyn),
        )];
        run_table(name, &fx, &refilled);
    }
}

#[test]
fn fin_wait_timestamps() {
    for (name, fx, state) in [
        ("FIN-WAIT-1 (TS)", Fx::fin_wait_1(FULL), FinWait1),
        ("FIN-WAIT-2 (TS)", Fx::fin_wait_2(FULL), FinWait2),
    ] {
        let rows = [
            row(
                "PAWS-old data",
                PAWS,
                seg().len(100).ts(Ts::Old),
                to(state)
                    .reply(challenge())
                    .drop(Paws)
                    .then(After::TsRecent(Ts::Same)),
            ),
            row(
                "PAWS-old FIN",
                PAWS,
                fin().ack(P::SndNxt(0)).ts(Ts::Old),
                to(state).reply(challenge()).drop(Paws),
            ),
            row(
                "PAWS-old RST at RCV.NXT",
                "RFC 7323 §5.3 R1: PAWS does not apply to a RST",
                rst().ts(Ts::Old),
                reset(),
            ),
            row(
                "data in order, fresh TSval",
                "RFC 7323 §4.3: TS.Recent <- SEG.TSval when SEG.SEQ =< Last.ACK.sent",
                seg().len(100),
                // Quick-ACK mode at the start of the connection (issue #16, Linux
                // tcp_incr_quickack): acknowledged at once, not after the delay.
                to(state)
                    .delivered(100)
                    .reply(ack(P::SndNxt(0), P::RcvNxt(100)))
                    .then(After::TsRecent(Ts::Fresh)),
            ),
            row(
                "data out of order",
                "RFC 2018 §4: the duplicate ACK's first SACK block is the segment just received",
                seg().seq(P::RcvNxt(100)).len(100),
                to(state).reply(challenge().sack(P::RcvNxt(100), P::RcvNxt(200))),
            ),
        ];
        run_table(name, &fx, &rows);
    }
}
