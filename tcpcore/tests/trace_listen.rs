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
    assert_eq!(h.ep.stats().tx_rsts, 2, "every RST written is counted");
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

/// RFC 6191 §2 (and RFC 9293 §3.10.7.4, RFC 1122 4.2.2.13): a SYN for a
/// 4-tuple in TIME-WAIT whose sequence number is past the last RCV.NXT opens
/// a new connection (TIME-WAIT ends, the SYN is handled as LISTEN would).
/// The new ISS is the old SND.NXT + 65535 + 2, as Linux's
/// `tcp_timewait_state_process` picks it.
#[test]
fn time_wait_accepts_syn_with_newer_seq() {
    let mut h = Harness::new(default_config());
    h.run(&format!(
        "{HS}
         {INTO_TIME_WAIT}
         0.200 < S 5000:5000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.200 > S. 65539:65539(0) ack 5001
         0.200 ! state SYN-RECEIVED
         0.200 ! closed normal
         0.200 ! conns 1
         0.210 < . 5001:5001(0) ack 65540 win 502
         0.210 ! state ESTABLISHED
         0.210 ! established 2"
    ));
    assert_eq!(h.ep.stats().closed_by(tcpcore::CloseReason::Normal), 1);
}

/// RFC 6191 §2: when the old incarnation used timestamps, a SYN whose TSval
/// is newer than TS.Recent opens a new connection even though its sequence
/// number is older than the last RCV.NXT (Linux `tcp_timewait_state_process`).
#[test]
fn time_wait_accepts_syn_with_newer_tsval_and_older_seq() {
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
         0.100 ! app-close
         0.100 > F. 1:1(0) ack 1001
         0.110 < F. 1001:1001(0) ack 2 win 502 <nop,nop,TS val 120 ecr *>
         0.110 > . 2:2(0) ack 1002
         0.110 ! state TIME-WAIT
         0.200 < S 500:500(0) win 64240 <mss 1460,sackOK,TS val 200 ecr 0,nop,wscale 7>
         0.200 > S. 65539:65539(0) ack 501 <mss 1460,sackOK,TS val * ecr 200,nop,wscale 1>
         0.200 ! state SYN-RECEIVED",
    );
}

/// RFC 6191 §2 / RFC 9293 §3.10.7.4: a SYN in TIME-WAIT whose sequence
/// number is not past RCV.NXT, without timestamps, is not a new
/// incarnation: the old behaviour stays (an ACK, RFC 5961 §4, within the
/// challenge-ACK rate limit), and TIME-WAIT with it. With timestamps, a SYN
/// whose TSval is older than TS.Recent fails PAWS (RFC 7323 §5) and is
/// refused too.
#[test]
fn time_wait_refuses_syn_with_old_seq() {
    let mut h = Harness::new(default_config());
    h.run(&format!(
        "{HS}
         {INTO_TIME_WAIT}
         0.200 < S 900:900(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.200 > . 2:2(0) ack 1002
         0.200 ! state TIME-WAIT
         0.300 < S 1002:1002(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.300 > . 2:2(0) ack 1002
         0.300 ! state TIME-WAIT
         0.300 ! conns 1"
    ));
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
         0.100 ! app-close
         0.100 > F. 1:1(0) ack 1001
         0.110 < F. 1001:1001(0) ack 2 win 502 <nop,nop,TS val 120 ecr *>
         0.110 > . 2:2(0) ack 1002
         0.200 < S 5000:5000(0) win 64240 <mss 1460,sackOK,TS val 50 ecr 0,nop,wscale 7>
         0.200 > . 2:2(0) ack 1002
         0.200 ! state TIME-WAIT",
    );
}

/// A table full of TIME-WAIT slots does not refuse new connections: the
/// oldest TIME-WAIT slot is recycled for the SYN (as Linux keeps no more
/// than `tcp_max_tw_buckets` of them: "TCP: time wait bucket table
/// overflow"). RFC 9293 §3.10.7.2 (LISTEN, third, SYN) then applies as
/// usual; TIME-WAIT (RFC 9293 §3.6) is only a protection against old
/// duplicates, not a reason to turn new peers away.
#[test]
fn full_table_of_time_wait_recycles_the_oldest() {
    let mut h = Harness::with_slots(default_config(), 2);
    for (port, t) in [(40000, 0.0), (40001, 1.0)] {
        h.port = port;
        h.iss = None;
        h.run(&format!(
            "{t:.3} < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
             {t:.3} > S. 0:0(0) ack 1001
             {t:.3} < . 1001:1001(0) ack 1 win 502
             {t:.3} ! app-close
             {t:.3} > F. 1:1(0) ack 1001
             {t:.3} < F. 1001:1001(0) ack 2 win 502
             {t:.3} > . 2:2(0) ack 1002
             {t:.3} ! state TIME-WAIT"
        ));
    }
    assert_eq!(h.ep.len(), 2);
    h.port = 40002;
    h.iss = None;
    h.run(
        "2.000 < S 3000:3000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         2.000 > S. 0:0(0) ack 3001
         2.000 ! state SYN-RECEIVED
         2.000 ! conns 2
         2.000 ! drops table-full 0
         2.000 ! closed normal",
    );
    let ports: Vec<u16> = h.ep.connections().map(|(_, t, _)| t.remote_port).collect();
    assert!(
        !ports.contains(&40000),
        "the oldest TIME-WAIT (port 40000) is gone: {ports:?}"
    );
    assert!(ports.contains(&40001), "the younger one stays: {ports:?}");
    // The next SYN takes the other TIME-WAIT slot; then, with no TIME-WAIT
    // left, a full table refuses as before.
    h.port = 40003;
    h.iss = None;
    h.run(
        "2.100 < S 3000:3000(0) win 64240
         2.100 > S. 0:0(0) ack 3001
         2.100 ! conns 2",
    );
    h.port = 40004;
    h.run(
        "2.200 < S 3000:3000(0) win 64240
         2.200 ! drops table-full 1",
    );
    let ports: Vec<u16> = h.ep.connections().map(|(_, t, _)| t.remote_port).collect();
    assert!(
        ports.contains(&40002) && ports.contains(&40003),
        "{ports:?}"
    );
    assert_eq!(h.ep.stats().time_wait_recycled, 2);
}

/// A frame like [`client_frame`] but from `src`.
fn frame_from(src: std::net::Ipv4Addr, tcp: &TcpRepr<'_>) -> Vec<u8> {
    use tcpcore::wire::{EtherType, EthernetRepr, IpProtocol, Ipv4Repr};
    let eth = EthernetRepr {
        src_addr: common::CLIENT_MAC,
        dst_addr: common::SERVER_MAC,
        ethertype: EtherType::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: common::SERVER_IP,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut buf = vec![0u8; wire::tcp_frame_len(tcp)];
    let n = wire::emit_tcp_frame(&mut buf, &eth, &ip, tcp).expect("emit");
    buf.truncate(n);
    buf
}

/// RFC 1122 §3.2.1.3 (g): loopback addresses "MUST NOT appear outside a
/// host", and "A host MUST silently discard an incoming datagram containing
/// an IP source address that is invalid by the rules of this section." A
/// SYN from 127.0.0.1, or from our own address (a LAND attack; Linux drops
/// such a "martian source" in `fib_validate_source`), gets no SYN-ACK and
/// makes no connection, on the listening port or a closed one.
#[test]
fn syn_from_loopback_or_own_address_is_dropped() {
    let mut h = Harness::new(own_address());
    for src in [
        std::net::Ipv4Addr::new(127, 0, 0, 1),
        std::net::Ipv4Addr::new(127, 9, 9, 9),
        common::SERVER_IP,
    ] {
        for dst_port in [SERVER_PORT, SERVER_PORT + 1] {
            let syn = TcpRepr {
                src_port: CLIENT_PORT,
                dst_port,
                seq_number: SeqNum::new(1000),
                ack_number: None,
                control: TcpControl::Syn,
                push: false,
                urgent: None,
                ece: false,
                cwr: false,
                window_len: 64240,
                options: TcpOptions::default(),
                payload: &[],
            };
            h.send(&frame_from(src, &syn));
            assert_eq!(sent(&mut h), vec![], "a SYN from {src} to {dst_port}");
        }
    }
    assert_eq!(h.ep.len(), 0);
    assert_eq!(h.ep.stats().dropped(DropReason::BadSource), 6);
}
