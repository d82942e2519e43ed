//! Who sends the ACK (issue #15: the connection owns its ACK policy).
//! A transition records the ACK it owes instead of building it;
//! `State::poll_transmit` sends the connection's data first, which carries
//! the ACK, and a pure ACK only when one is still owed, built then, with
//! the window as the application's reading left it (RFC 9293 §3.8.6.2.2,
//! §3.8.6.3; RFC 5681 §4.2; RFC 2018 §4). Before, the endpoint dropped the
//! redundant pure ACK and rewrote the window of ACKs already built.

#[path = "transitions/mod.rs"]
#[allow(unused_imports)] // the table runner is for the other files
mod table;

use table::*;
use tcpcore::wire::TcpControl;

const SACK: Opts = Opts {
    ts: false,
    sack: true,
    ws: false,
};

/// Two full segments in order owe an ACK (RFC 9293 §3.8.6.3); data about
/// to go carries it, so no pure ACK follows the data.
#[test]
fn owed_ack_rides_on_data() {
    let mut fx = Fx::established(PLAIN);
    fx.cfg.nagle = false;
    assert_eq!(fx.state.queue(100), 100);
    let o = fx.arrive(&seg().len(2920));
    assert_eq!(o.delivered, 2920);
    assert!(o.replies.is_empty(), "the ACK is owed, not built: {o:?}");
    let rcv_nxt = fx.vars().rcv_nxt;
    let sent = fx.transmit();
    assert_eq!(sent.len(), 1, "one data segment, no pure ACK: {sent:?}");
    assert_eq!((sent[0].len, sent[0].ack), (100, Some(rcv_nxt)));
    assert_eq!(fx.poll_ack(), None, "nothing owed any more");
}

/// Out-of-order data owes an immediate duplicate ACK with SACK blocks
/// (RFC 5681 §4.2, RFC 2018 §4): a data segment does not replace it (a
/// duplicate ACK counts only without data, RFC 5681 §2), so the pure ACK
/// still follows the data.
#[test]
fn owed_dup_ack_with_sack_follows_the_data() {
    let mut fx = Fx::established(SACK);
    fx.cfg.nagle = false;
    assert_eq!(fx.state.queue(100), 100);
    let rcv_nxt = fx.vars().rcv_nxt;
    let o = fx.arrive(&seg().seq(P::RcvNxt(500)).len(100));
    assert!(o.replies.is_empty(), "{o:?}");
    let sent = fx.transmit();
    assert_eq!(sent.len(), 2, "data, then the duplicate ACK: {sent:?}");
    assert_eq!(sent[0].len, 100);
    let dup = sent[1];
    assert_eq!(
        (dup.len, dup.ack, dup.control),
        (0, Some(rcv_nxt), TcpControl::None)
    );
    let hole_end = rcv_nxt + 500;
    assert_eq!(
        dup.options.sack_blocks.as_slice(),
        &[(hole_end, hole_end + 100)],
        "the SACK block of the segment"
    );
}

/// The owed ACK is built when it is sent: after the application read what
/// arrived, it advertises the window as it is then, not as it was when
/// the data arrived.
#[test]
fn owed_ack_advertises_the_window_after_the_read() {
    let mut fx = Fx::established(PLAIN);
    let o = fx.arrive(&seg().len(2920));
    assert!(o.replies.is_empty(), "{o:?}");
    fx.state.consume(2920, &fx.cfg.clone());
    let ack = fx.poll_ack().expect("the owed ACK");
    assert_eq!(ack.window as usize, RX, "the whole buffer is free again");
}

/// FIN-WAIT-2 is its own state in the transition (RFC 9293 §3.10.7.4:
/// "In addition to the processing for the ESTABLISHED state"): the peer's
/// FIN there acknowledged at once, straight into TIME-WAIT, never through
/// CLOSING.
#[test]
fn fin_in_fin_wait_2_is_acknowledged_into_time_wait() {
    let mut fx = Fx::fin_wait_2(PLAIN);
    let o = fx.arrive(&fin());
    assert_eq!(o.state.name(), tcpcore::StateName::TimeWait);
    assert_eq!(o.replies.len(), 1, "{o:?}");
    assert_eq!(o.replies[0].ack, Some(fx.vars().rcv_nxt));
}
