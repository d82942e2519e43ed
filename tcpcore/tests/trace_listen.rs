//! Packet traces for segments that find no connection: LISTEN (RFC 9293
//! §3.10.7.2), a closed port of our own address (§3.10.7.1), a new SYN for
//! a 4-tuple in TIME-WAIT (RFC 6191, RFC 9293 §3.10.7.4), and a table full
//! of TIME-WAIT slots.

mod common;
use common::{client_frame, default_config, Harness, CLIENT_IP, CLIENT_PORT, SERVER_PORT};
use tcpcore::wire::{self, ChecksumPolicy, Frame, TcpControl, TcpOptions, TcpRepr};
use tcpcore::{DropReason, EndpointConfig, SeqNum};

const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// Our side closes first, so that we hold TIME-WAIT (RFC 9293 §3.6).
#[allow(dead_code)]
const INTO_TIME_WAIT: &str = "
    0.100 ! app-close
    0.100 > F. 1:1(0) ack 1001
    0.110 < F. 1001:1001(0) ack 2 win 502
    0.110 > . 2:2(0) ack 1002
    0.110 ! state TIME-WAIT";

fn own_address() -> EndpointConfig {
    let mut c = default_config();
    c.answer_arp = true;
    c.reset_other_ports = true;
    c
}

fn shared_address() -> EndpointConfig {
    let mut c = default_config();
    c.answer_arp = false;
    c.reset_other_ports = false;
    c
}

/// A segment from the client's port to `dst_port` of the server's address.
fn segment(
    dst_port: u16,
    seq: u32,
    ack: Option<u32>,
    control: TcpControl,
    payload: &[u8],
) -> Vec<u8> {
    client_frame(&TcpRepr {
        src_port: CLIENT_PORT,
        dst_port,
        seq_number: SeqNum::new(seq),
        ack_number: ack.map(SeqNum::new),
        control,
        push: false,
        urgent: None,
        ece: false,
        cwr: false,
        window_len: 64240,
        options: TcpOptions::default(),
        payload,
    })
}

/// One frame the endpoint sent: (src port, dst port, flags, seq, ack,
/// payload length, frame length).
type Sent = (u16, u16, String, u32, Option<u32>, usize, usize);

/// The frames the endpoint sent since the last call.
fn sent(h: &mut Harness) -> Vec<Sent> {
    h.rec
        .out
        .drain(..)
        .map(|(_, f)| {
            let Ok(Frame::Tcp { ip, tcp, .. }) = wire::parse_frame(&f, ChecksumPolicy::Verify)
            else {
                panic!("not a TCP frame: {f:02x?}");
            };
            assert_eq!(ip.dst_addr, CLIENT_IP);
            (
                tcp.src_port,
                tcp.dst_port,
                tcp.flags().to_string(),
                tcp.seq_number.get(),
                tcp.ack_number.map(|a| a.get()),
                tcp.payload.len(),
                f.len(),
            )
        })
        .collect()
}

/// RFC 9293 §3.10.7.1 (CLOSED): in own-address mode the server is its
/// address's only TCP, so a segment to a port where nothing listens gets the
/// reset of a CLOSED port: "If the ACK bit is off, sequence number zero is
/// used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on,
/// <SEQ=SEG.ACK><CTL=RST>." "An incoming segment containing a RST is
/// discarded." The reset is never larger than what it answers.
#[test]
fn closed_port_of_own_address_is_reset() {
    let mut h = Harness::new(own_address());
    let syn = segment(SERVER_PORT + 1, 7000, None, TcpControl::Syn, &[]);
    h.send(&syn);
    let out = sent(&mut h);
    assert_eq!(
        out,
        vec![(
            SERVER_PORT + 1,
            CLIENT_PORT,
            "R.".to_string(),
            0,
            Some(7001),
            0,
            out.first().map_or(0, |o| o.6)
        )],
        "a SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
    );
    assert!(out[0].6 <= syn.len().max(60), "no amplification");
    // With ACK (and data): <SEQ=SEG.ACK><CTL=RST>.
    h.send(&segment(9, 7001, Some(4242), TcpControl::None, b"hello"));
    let out = sent(&mut h);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, out[0].2.as_str(), out[0].3, out[0].4),
        (9, "R", 4242, None)
    );
    // A RST is never answered.
    h.send(&segment(SERVER_PORT + 1, 7001, None, TcpControl::Rst, &[]));
    assert_eq!(sent(&mut h), vec![]);
    assert_eq!(h.ep.stats().resets_sent, 2);
    assert_eq!(h.ep.len(), 0, "no state is kept for a closed port");
    assert_eq!(h.ep.stats().dropped(DropReason::NotForUs), 0);
    // The listening port still works.
    h.run(HS);
    assert_eq!(h.ep.len(), 1);
}

/// In shared-address mode the kernel owns the address and answers for its
/// other ports (RFC 9293 §3.10.7.1 is its job there): the endpoint leaves
/// them alone.
#[test]
fn closed_port_of_shared_address_is_left_to_the_kernel() {
    let mut h = Harness::new(shared_address());
    h.send(&segment(SERVER_PORT + 1, 7000, None, TcpControl::Syn, &[]));
    assert_eq!(sent(&mut h), vec![]);
    assert_eq!(h.ep.stats().dropped(DropReason::NotForUs), 1);
    assert_eq!(h.ep.stats().resets_sent, 0);
}

/// RFC 9293 §3.10.7.2 (LISTEN), fourth, other text or control: "Any other
/// control or text-bearing segment (not containing SYN) must have an ACK
/// and thus would be discarded by the ACK processing ... if you get here,
/// drop the segment, and return." No flags, FIN alone, and data without ACK
/// are dropped without a reset.
#[test]
fn listen_drops_segments_without_syn_ack_or_rst() {
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < - 1000:1000(0) win 64240
         0.010 < F 1000:1000(0) win 64240
         0.020 < P 1000:1010(10) win 64240
         0.020 ! drops no-connection 3
         0.020 ! conns 0",
    );
    assert_eq!(h.ep.stats().resets_sent, 0);
    // An ACK still gets its reset (§3.10.7.2 second): <SEQ=SEG.ACK><CTL=RST>.
    h.run(
        "0.030 < . 1000:1000(0) ack 77 win 64240
         0.030 > R 77:77(0)",
    );
}
