//! Differential: our parsers against etherparse on the same bytes. Both
//! accept or both reject an Ethernet II / IPv4 / TCP frame (once the
//! differences by design are set aside: we verify checksums, reject VLAN
//! tags and fragments, and check options strictly), and where both accept,
//! every header field agrees.
#![no_main]

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{parse_frame, ChecksumPolicy, Frame, TcpControl, TcpOptions};

fuzz_target!(|data: &[u8]| {
    let ours = parse_frame(data, ChecksumPolicy::Skip);
    let theirs = SlicedPacket::from_ethernet(data);
    // We do not parse VLAN tags (documented); etherparse knows 802.1Q,
    // 802.1ad and the older 0x9100/0x9200 tags.
    let vlan = matches!(
        data.get(12..14),
        Some([0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00] | [0x92, 0x00])
    );
    if vlan {
        return;
    }
    let Ok(Frame::Tcp { eth, ip, tcp }) = ours else {
        // Ours rejected (or ARP): when etherparse accepts a plain IPv4/TCP
        // frame, our reason must be one of the documented differences.
        if let (Err(e), Ok(p)) = (&ours, &theirs) {
            if let (Some(NetSlice::Ipv4(_)), Some(TransportSlice::Tcp(_))) = (&p.net, &p.transport)
            {
                let r = e.reason();
                // By design: we verify the IPv4 header checksum, check TCP
                // options strictly, reject SYN+FIN / SYN+RST, fragments and
                // VLAN tags.
                assert!(
                    matches!(
                        r,
                        "ipv4_bad_checksum"
                            | "tcp_bad_option"
                            | "tcp_illegal_flags"
                            | "ipv4_fragment"
                            | "eth_vlan_tagged"
                    ),
                    "we reject what etherparse accepts: {r}"
                );
            }
        }
        return;
    };
    let p = match theirs {
        Ok(p) => p,
        Err(e) => panic!("etherparse rejects what we accept: {e:?}"),
    };
    let Some(NetSlice::Ipv4(v4)) = &p.net else {
        panic!("etherparse: not IPv4")
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("etherparse: not TCP")
    };
    let h = v4.header();
    assert_eq!(
        eth.src_addr.0,
        p.link
            .as_ref()
            .map(|l| match l {
                etherparse::LinkSlice::Ethernet2(e) => e.source(),
                _ => [0; 6],
            })
            .unwrap()
    );
    assert_eq!(ip.src_addr.octets(), h.source());
    assert_eq!(ip.dst_addr.octets(), h.destination());
    assert_eq!(ip.ttl, h.ttl());
    assert_eq!(ip.ident, h.identification());
    assert_eq!(ip.dont_frag, h.dont_fragment());
    assert_eq!(tcp.src_port, t.source_port());
    assert_eq!(tcp.dst_port, t.destination_port());
    assert_eq!(tcp.seq_number.get(), t.sequence_number());
    assert_eq!(tcp.window_len, t.window_size());
    assert_eq!(
        tcp.ack_number.map(|a| a.get()),
        t.ack().then(|| t.acknowledgment_number())
    );
    assert_eq!(tcp.control == TcpControl::Syn, t.syn());
    assert_eq!(tcp.payload, t.payload());
    assert_eq!(tcp.options, TcpOptions::parse(t.options()).unwrap());
});
