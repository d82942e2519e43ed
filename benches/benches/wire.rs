//! Wire codecs: parse (with both checksums verified) and build a whole
//! Ethernet/IPv4/TCP frame, tcpcore against etherparse and smoltcp's `wire`
//! module, in one run.
//!
//! Frames: a 66-byte pure ACK with the timestamps option and a 1514-byte
//! full-sized data segment, both captured from Linux (see
//! `tcpcore/tests/data/captures.rs`).
//!
//! ```text
//! cargo bench -p benches --bench wire -- --warm-up-time 1 --measurement-time 3
//! ```

#[path = "../../tcpcore/tests/data/captures.rs"]
mod captures;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod ours {
    use tcpcore::wire::{
        emit_tcp_frame, parse_frame, ChecksumPolicy, EthernetRepr, Frame, Ipv4Repr, TcpRepr,
    };

    /// Parses and verifies the IPv4 and TCP checksums.
    pub fn parse(bytes: &[u8]) -> Option<(u32, usize)> {
        match parse_frame(bytes, ChecksumPolicy::Verify) {
            Ok(Frame::Tcp { tcp, .. }) => Some((tcp.seq_number.get(), tcp.payload.len())),
            _ => None,
        }
    }

    pub fn reprs(bytes: &[u8]) -> (EthernetRepr, Ipv4Repr, TcpRepr<'_>) {
        match parse_frame(bytes, ChecksumPolicy::Verify) {
            Ok(Frame::Tcp { eth, ip, tcp }) => (eth, ip, tcp),
            other => panic!("not a TCP frame: {other:?}"),
        }
    }

    pub fn build(buf: &mut [u8], r: &(EthernetRepr, Ipv4Repr, TcpRepr<'_>)) -> usize {
        emit_tcp_frame(buf, &r.0, &r.1, &r.2).expect("buffer large enough")
    }
}

mod theirs_etherparse {
    use etherparse::checksum::Sum16BitWords;
    use etherparse::{
        IpHeaders, LinkHeader, NetHeaders, NetSlice, PacketBuilder, PacketHeaders, SlicedPacket,
        TransportHeader, TransportSlice,
    };

    /// Slices the frame and verifies both checksums with etherparse's own
    /// checksum code (etherparse does not verify on its own).
    pub fn parse(bytes: &[u8]) -> Option<(u32, usize)> {
        let p = SlicedPacket::from_ethernet(bytes).ok()?;
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            return None;
        };
        let h = ip.header();
        if Sum16BitWords::new().add_slice(h.slice()).ones_complement() != 0 {
            return None;
        }
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            return None;
        };
        if tcp.calc_checksum_ipv4(h.source(), h.destination()).ok()? != tcp.checksum() {
            return None;
        }
        Some((tcp.sequence_number(), tcp.payload().len()))
    }

    pub type Headers = (
        etherparse::Ethernet2Header,
        IpHeaders,
        etherparse::TcpHeader,
        Vec<u8>,
    );

    pub fn headers(bytes: &[u8]) -> Headers {
        let h = PacketHeaders::from_ethernet_slice(bytes).expect("parses");
        let Some(LinkHeader::Ethernet2(eth)) = h.link else {
            panic!("no Ethernet")
        };
        let Some(NetHeaders::Ipv4(ip, ext)) = h.net else {
            panic!("no IPv4")
        };
        let Some(TransportHeader::Tcp(tcp)) = h.transport else {
            panic!("no TCP")
        };
        let payload = h.payload.slice().to_vec();
        (eth, IpHeaders::Ipv4(ip, ext), tcp, payload)
    }

    /// Builds the frame (lengths and both checksums computed) with
    /// etherparse's `PacketBuilder`.
    pub fn build(buf: &mut [u8], h: &Headers) -> usize {
        let total = buf.len();
        let mut w: &mut [u8] = buf;
        PacketBuilder::ethernet2(h.0.source, h.0.destination)
            .ip(h.1.clone())
            .tcp_header(h.2.clone())
            .write(&mut w, &h.3)
            .expect("buffer large enough");
        total - w.len()
    }
}

mod theirs_smoltcp {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr,
        TcpPacket, TcpRepr,
    };

    /// Parses with `Ipv4Repr::parse` and `TcpRepr::parse`, both verifying
    /// their checksums (the default `ChecksumCapabilities`).
    pub fn parse(bytes: &[u8]) -> Option<(u32, usize)> {
        let caps = ChecksumCapabilities::default();
        let eth = EthernetFrame::new_checked(bytes).ok()?;
        let eth_repr = EthernetRepr::parse(&eth).ok()?;
        if eth_repr.ethertype != EthernetProtocol::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let ip_repr = Ipv4Repr::parse(&ip, &caps).ok()?;
        if ip_repr.next_header != IpProtocol::Tcp {
            return None;
        }
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        let tcp_repr = TcpRepr::parse(
            &tcp,
            &IpAddress::Ipv4(ip_repr.src_addr),
            &IpAddress::Ipv4(ip_repr.dst_addr),
            &caps,
        )
        .ok()?;
        Some((tcp_repr.seq_number.0 as u32, tcp_repr.payload.len()))
    }

    pub type Reprs<'a> = (EthernetRepr, Ipv4Repr, TcpRepr<'a>);

    pub fn reprs(bytes: &[u8]) -> Reprs<'_> {
        let caps = ChecksumCapabilities::default();
        let eth = EthernetFrame::new_checked(bytes).unwrap();
        let eth_repr = EthernetRepr::parse(&eth).unwrap();
        let ip = Ipv4Packet::new_checked(&bytes[14..]).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip, &caps).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        let tcp_repr = TcpRepr::parse(
            &tcp,
            &IpAddress::Ipv4(ip_repr.src_addr),
            &IpAddress::Ipv4(ip_repr.dst_addr),
            &caps,
        )
        .unwrap();
        (eth_repr, ip_repr, tcp_repr)
    }

    /// Emits the three headers (and the payload) with both checksums.
    pub fn build(buf: &mut [u8], r: &Reprs<'_>) -> usize {
        let caps = ChecksumCapabilities::default();
        let tcp_len = r.2.buffer_len();
        let ip = Ipv4Repr {
            payload_len: tcp_len,
            ..r.1
        };
        // smoltcp's Ipv4Repr::buffer_len is the header only.
        let len = 14 + ip.buffer_len() + tcp_len;
        let frame_bytes = &mut buf[..len];
        let mut frame = EthernetFrame::new_unchecked(&mut *frame_bytes);
        r.0.emit(&mut frame);
        let mut ip_packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut ip_packet, &caps);
        let mut tcp = TcpPacket::new_unchecked(ip_packet.payload_mut());
        r.2.emit(
            &mut tcp,
            &IpAddress::Ipv4(ip.src_addr),
            &IpAddress::Ipv4(ip.dst_addr),
            &caps,
        );
        len
    }
}

fn frames() -> [(&'static str, &'static [u8]); 2] {
    [
        ("ack_66", &captures::ACK_SERVER[..]),
        ("data_1514", &captures::DATA_1514[..]),
    ]
}

fn parse(c: &mut Criterion) {
    for (name, bytes) in frames() {
        // All three agree on the frame before they race.
        let want = ours::parse(bytes);
        assert!(want.is_some());
        assert_eq!(theirs_etherparse::parse(bytes), want);
        assert_eq!(theirs_smoltcp::parse(bytes), want);

        let mut g = c.benchmark_group(format!("parse_verify/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("tcpcore", |b| b.iter(|| ours::parse(black_box(bytes))));
        g.bench_function("etherparse", |b| {
            b.iter(|| theirs_etherparse::parse(black_box(bytes)))
        });
        g.bench_function("smoltcp", |b| {
            b.iter(|| theirs_smoltcp::parse(black_box(bytes)))
        });
        g.finish();
    }
}

fn build(c: &mut Criterion) {
    for (name, bytes) in frames() {
        let mut buf = vec![0u8; 2048];
        let ours_r = ours::reprs(bytes);
        let ep_h = theirs_etherparse::headers(bytes);
        let sm_r = theirs_smoltcp::reprs(bytes);
        // tcpcore and etherparse rebuild the captured bytes exactly;
        // smoltcp's Ipv4Repr has no ident, so it differs there (and in
        // the IPv4 checksum), not in length.
        let n = ours::build(&mut buf, &ours_r);
        assert_eq!(&buf[..n], bytes);
        let n = theirs_etherparse::build(&mut buf, &ep_h);
        assert_eq!(&buf[..n], bytes);
        assert_eq!(theirs_smoltcp::build(&mut buf, &sm_r), bytes.len());

        let mut g = c.benchmark_group(format!("build/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("tcpcore", |b| {
            b.iter(|| ours::build(black_box(&mut buf), black_box(&ours_r)))
        });
        g.bench_function("etherparse", |b| {
            b.iter(|| theirs_etherparse::build(black_box(&mut buf), black_box(&ep_h)))
        });
        g.bench_function("smoltcp", |b| {
            b.iter(|| theirs_smoltcp::build(black_box(&mut buf), black_box(&sm_r)))
        });
        g.finish();
    }
}

criterion_group!(benches, parse, build);
criterion_main!(benches);
