//! Differential test against etherparse: on random and mutated captured
//! frames, tcpcore's `parse_frame` and etherparse's `SlicedPacket` agree on
//! accepting or rejecting, and on every field of what both accept.
//!
//! Where the two differ by design, etherparse's answer is normalised first:
//!
//! - etherparse does not verify checksums; we do (IPv4 always, TCP with
//!   `ChecksumPolicy::Verify`). A frame whose IPv4 header checksum or TCP
//!   checksum (computed with etherparse's own checksum functions, over the
//!   raw bytes) is wrong counts as rejected by etherparse.
//! - etherparse accepts VLAN-tagged frames, EtherTypes other than IPv4 and
//!   ARP, IP protocols other than TCP, and IPv4 fragments (without parsing
//!   their transport header); tcpcore rejects all of these
//!   (`VlanTagged`, `UnsupportedEtherType`, `UnsupportedProtocol`,
//!   `Fragment`). For them we only check that tcpcore rejects.
//! - etherparse does not reject SYN+FIN or SYN+RST; tcpcore does
//!   (`IllegalFlags`): they count as rejected by etherparse.
//! - etherparse's option iterator stops with an error at an unknown option
//!   kind, where tcpcore skips it by its length. When etherparse reports an
//!   unknown kind, the options are not compared, and tcpcore may accept or
//!   reject with `BadOption` (a bad length after the unknown kind).
//! - etherparse 0.16 does not parse ARP: for ARP frames only the Ethernet
//!   header is compared.
//! - The one's complement sum has two zeros: a checksum field of `0xffff`
//!   where `0x0000` is computed (or the reverse) is valid for tcpcore;
//!   it is accepted as valid for etherparse too.

#[path = "data/captures.rs"]
mod captures;

use etherparse::{LinkSlice, NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};
use proptest::prelude::*;
use tcpcore::wire::{
    parse_frame, ChecksumPolicy, EthernetFrame, Frame, FrameError, Ipv4Packet, TcpError, TcpPacket,
};

/// The fields both parsers report for an accepted TCP frame.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TcpFields {
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    ethertype: u16,
    ip_header_len: usize,
    dscp: u8,
    ecn: u8,
    total_len: u16,
    ident: u16,
    dont_frag: bool,
    more_frags: bool,
    frag_offset_bytes: u16,
    ttl: u8,
    protocol: u8,
    ip_checksum: u16,
    src: [u8; 4],
    dst: [u8; 4],
    ip_options: Vec<u8>,
    ip_payload_len: usize,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: Option<u32>,
    tcp_header_len: usize,
    flags: u8,
    window: u16,
    tcp_checksum: u16,
    urgent: Option<u16>,
    options: Option<Opts>,
    payload: Vec<u8>,
}

/// Options, last one wins, as both parsers see them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Opts {
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    sack: Vec<(u32, u32)>,
    timestamps: Option<(u32, u32)>,
}

#[derive(Debug)]
enum Expect {
    /// Rejected (after normalisation).
    Reject,
    /// Accepted by etherparse but rejected by tcpcore by design.
    RejectByDesign(&'static str),
    /// An ARP frame: only the Ethernet header is compared.
    Arp([u8; 6], [u8; 6]),
    /// Accepted, with these fields (`options: None` when etherparse met an
    /// unknown option kind).
    Tcp(Box<TcpFields>),
}

fn checksum_ok(field: u16, computed: u16) -> bool {
    field == computed || (field ^ computed) == 0xffff && (field == 0 || computed == 0)
}

fn etherparse_view(bytes: &[u8]) -> Expect {
    let Ok(p) = SlicedPacket::from_ethernet(bytes) else {
        return Expect::Reject;
    };
    if p.vlan.is_some() {
        return Expect::RejectByDesign("vlan");
    }
    let Some(LinkSlice::Ethernet2(eth)) = &p.link else {
        return Expect::Reject;
    };
    let ethertype = eth.ether_type().0;
    if ethertype == 0x0806 {
        return Expect::Arp(eth.source(), eth.destination());
    }
    if ethertype != 0x0800 {
        return Expect::RejectByDesign("ethertype");
    }
    let Some(NetSlice::Ipv4(ipv4)) = &p.net else {
        return Expect::Reject;
    };
    let h = ipv4.header();
    // Over the raw header bytes: `Ipv4Header::calc_header_checksum` would
    // rebuild the header from its fields and miss the reserved flag bit.
    let ip_sum = etherparse::checksum::Sum16BitWords::new()
        .add_slice(h.slice())
        .ones_complement();
    if ip_sum != 0 {
        return Expect::Reject;
    }
    if ipv4.is_payload_fragmented() {
        return Expect::RejectByDesign("fragment");
    }
    if h.protocol().0 != 6 {
        return Expect::RejectByDesign("protocol");
    }
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        return Expect::Reject;
    };
    let Ok(computed) = tcp.calc_checksum_ipv4(h.source(), h.destination()) else {
        return Expect::Reject;
    };
    if !checksum_ok(tcp.checksum(), computed) {
        return Expect::Reject;
    }
    if tcp.syn() && (tcp.fin() || tcp.rst()) {
        return Expect::Reject;
    }
    let mut opts = Some(Opts::default());
    for o in tcp.options_iterator() {
        let Some(acc) = opts.as_mut() else { break };
        match o {
            Ok(TcpOptionElement::Noop) => {}
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => acc.mss = Some(m),
            Ok(TcpOptionElement::WindowScale(s)) => acc.window_scale = Some(s),
            Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => acc.sack_permitted = true,
            Ok(TcpOptionElement::SelectiveAcknowledgement(first, rest)) => {
                acc.sack = core::iter::once(first)
                    .chain(rest.into_iter().flatten())
                    .collect();
            }
            Ok(TcpOptionElement::Timestamp(v, e)) => acc.timestamps = Some((v, e)),
            Err(etherparse::TcpOptionReadError::UnknownId(_)) => opts = None,
            Err(_) => return Expect::Reject,
        }
    }
    let flags = u8::from(tcp.fin())
        | u8::from(tcp.syn()) << 1
        | u8::from(tcp.rst()) << 2
        | u8::from(tcp.psh()) << 3
        | u8::from(tcp.ack()) << 4
        | u8::from(tcp.urg()) << 5
        | u8::from(tcp.ece()) << 6
        | u8::from(tcp.cwr()) << 7;
    Expect::Tcp(Box::new(TcpFields {
        eth_src: eth.source(),
        eth_dst: eth.destination(),
        ethertype,
        ip_header_len: usize::from(h.ihl()) * 4,
        dscp: h.dcp().value(),
        ecn: h.ecn().value(),
        total_len: h.total_len(),
        ident: h.identification(),
        dont_frag: h.dont_fragment(),
        more_frags: h.more_fragments(),
        frag_offset_bytes: h.fragments_offset().value() * 8,
        ttl: h.ttl(),
        protocol: h.protocol().0,
        ip_checksum: h.header_checksum(),
        src: h.source(),
        dst: h.destination(),
        ip_options: h.options().to_vec(),
        ip_payload_len: ipv4.payload().payload.len(),
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        tcp_header_len: usize::from(tcp.data_offset()) * 4,
        flags,
        window: tcp.window_size(),
        tcp_checksum: tcp.checksum(),
        urgent: tcp.urg().then(|| tcp.urgent_pointer()),
        options: opts,
        payload: tcp.payload().to_vec(),
    }))
}

/// tcpcore's view, from the reprs where they hold the value and from the
/// zero-copy views for raw fields (checksums, lengths, option bytes).
fn tcpcore_view(bytes: &[u8]) -> Result<Option<TcpFields>, FrameError> {
    let frame = parse_frame(bytes, ChecksumPolicy::Verify)?;
    let Frame::Tcp { eth, ip, tcp } = frame else {
        return Ok(None);
    };
    let e = EthernetFrame::new_checked(bytes).expect("parsed frame has a header");
    let p = Ipv4Packet::new_checked(e.payload()).expect("parsed IPv4");
    let t = TcpPacket::new_checked(p.payload()).expect("parsed TCP");
    Ok(Some(TcpFields {
        eth_src: eth.src_addr.0,
        eth_dst: eth.dst_addr.0,
        ethertype: eth.ethertype.into(),
        ip_header_len: usize::from(p.header_len()),
        dscp: ip.dscp,
        ecn: ip.ecn,
        total_len: p.total_len(),
        ident: ip.ident,
        dont_frag: ip.dont_frag,
        more_frags: ip.more_frags,
        frag_offset_bytes: ip.frag_offset,
        ttl: ip.ttl,
        protocol: ip.protocol.into(),
        ip_checksum: p.checksum(),
        src: ip.src_addr.octets(),
        dst: ip.dst_addr.octets(),
        ip_options: p.options().to_vec(),
        ip_payload_len: ip.payload_len,
        src_port: tcp.src_port,
        dst_port: tcp.dst_port,
        seq: tcp.seq_number.get(),
        ack: tcp.ack_number.map(|a| a.get()),
        tcp_header_len: usize::from(t.header_len()),
        flags: t.flags().0,
        window: tcp.window_len,
        tcp_checksum: t.checksum(),
        urgent: tcp.urgent,
        options: Some(Opts {
            mss: tcp.options.mss,
            window_scale: tcp.options.window_scale,
            sack_permitted: tcp.options.sack_permitted,
            sack: tcp
                .options
                .sack_blocks
                .as_slice()
                .iter()
                .map(|(l, r)| (l.get(), r.get()))
                .collect(),
            timestamps: tcp.options.timestamps.map(|t| (t.tsval, t.tsecr)),
        }),
        payload: tcp.payload.to_vec(),
    }))
}

/// Checks the two parsers agree on `bytes`; returns whether tcpcore
/// accepted, for the caller's statistics.
fn agree(bytes: &[u8]) -> bool {
    let ours = tcpcore_view(bytes);
    let accepted = ours.is_ok();
    match etherparse_view(bytes) {
        Expect::Reject => {
            assert!(
                ours.is_err(),
                "etherparse rejects, tcpcore accepts: {ours:?}"
            );
        }
        Expect::RejectByDesign(why) => {
            assert!(ours.is_err(), "{why}: tcpcore must reject, got {ours:?}");
        }
        Expect::Arp(src, dst) => match parse_frame(bytes, ChecksumPolicy::Verify) {
            Ok(Frame::Arp { eth, .. }) => {
                assert_eq!((eth.src_addr.0, eth.dst_addr.0), (src, dst));
            }
            Ok(other) => panic!("ARP frame parsed as {other:?}"),
            Err(e) => assert!(matches!(e, FrameError::Arp(_)), "{e:?}"),
        },
        Expect::Tcp(want) => match ours {
            Ok(Some(mut got)) => {
                if want.options.is_none() {
                    got.options = None;
                }
                assert_eq!(got, *want);
            }
            Err(FrameError::Tcp(TcpError::BadOption)) if want.options.is_none() => {}
            other => panic!("etherparse accepts {want:?}, tcpcore says {other:?}"),
        },
    }
    accepted
}

#[test]
fn captures_agree() {
    for (name, bytes) in captures::ALL {
        let ok = agree(bytes);
        assert!(ok, "{name} rejected");
    }
}

/// Recomputes the IPv4 and TCP checksums where the headers allow it, so
/// that mutations reach the deeper checks.
fn fix_checksums(frame: &mut [u8]) {
    let Some(ip_bytes) = frame.get_mut(14..) else {
        return;
    };
    let Ok(mut ip) = Ipv4Packet::new_checked(&mut *ip_bytes) else {
        return;
    };
    ip.fill_checksum();
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let range = usize::from(ip.header_len())..usize::from(ip.total_len());
    if let Ok(mut tcp) = TcpPacket::new_checked(&mut ip_bytes[range]) {
        tcp.fill_checksum(src, dst);
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize),
    SetByte(usize, u8),
    Truncate(usize),
    Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => any::<usize>().prop_map(Mutation::FlipBit),
        // Biased to the headers, where the interesting bytes are.
        4 => (0usize..80, any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Mutation::Extend),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        Mutation::FlipBit(i) => bytes[(i / 8) % n] ^= 1 << (i % 8),
        Mutation::SetByte(i, b) => bytes[i % n] = *b,
        Mutation::Truncate(i) => bytes.truncate(i % (n + 1)),
        Mutation::Extend(tail) => bytes.extend_from_slice(tail),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn mutated_captures_agree(
        which in 0..captures::ALL.len(),
        mutations in proptest::collection::vec(mutation(), 1..5),
        fix in any::<bool>(),
    ) {
        let mut bytes = captures::ALL[which].1.to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix {
            fix_checksums(&mut bytes);
        }
        agree(&bytes);
    }

    #[test]
    fn random_frames_agree(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..120),
        ethertype in prop_oneof![Just(0x0800u16), Just(0x0806), Just(0x8100), any::<u16>()],
        ver_ihl in prop_oneof![Just(0x45u8), 0x45u8..0x50, any::<u8>()],
        proto in prop_oneof![Just(6u8), any::<u8>()],
        fix in any::<bool>(),
    ) {
        if bytes.len() >= 14 {
            bytes[12..14].copy_from_slice(&ethertype.to_be_bytes());
        }
        if bytes.len() >= 24 {
            bytes[14] = ver_ihl;
            bytes[23] = proto;
            // A plausible total length, and no fragmentation, most of the
            // time: the rest of the bytes stay random.
            let total = (bytes.len() - 14) as u16;
            if fix {
                bytes[16..18].copy_from_slice(&total.to_be_bytes());
                bytes[20] &= 0x40;
                bytes[21] = 0;
            }
        }
        if fix {
            fix_checksums(&mut bytes);
        }
        agree(&bytes);
    }
}

#[test]
fn mutations_reach_acceptance() {
    // The differential test is only worth something if mutated frames are
    // often accepted by both: check a deterministic sample gets there.
    let mut accepted = 0;
    let mut total = 0;
    for (_, bytes) in captures::ALL {
        for i in 0..bytes.len().min(80) {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = bytes.to_vec();
                b[i] = v;
                fix_checksums(&mut b);
                total += 1;
                if agree(&b) {
                    accepted += 1;
                }
            }
        }
    }
    assert!(accepted * 4 > total, "{accepted}/{total} accepted");
}
