//! ICMPv6 (and NDP): no panic on any bytes; the checksum verified or not
//! gives the same value; what parses re-emits and parses again to the same
//! value; the quote helper never panics. The first 32 bytes are the
//! pseudo-header's addresses.
#![no_main]

use core::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{
    ChecksumPolicy, Icmpv6Packet, Icmpv6Repr, Icmpv6TcpQuote, IpProtocol, Ipv6Repr,
};

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(b);
    Ipv6Addr::from(o)
}

fuzz_target!(|data: &[u8]| {
    let _ = Icmpv6TcpQuote::parse(data);
    let Some((addrs, msg)) = data.split_at_checked(32) else {
        return;
    };
    let (src, dst) = (addr(&addrs[..16]), addr(&addrs[16..]));
    if let Ok(p) = Icmpv6Packet::new_checked(msg) {
        let _ = (
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq_no(),
            p.mtu(),
            p.pointer(),
            p.ndp_flags(),
            p.data().len(),
            p.verify_checksum(src, dst),
        );
        if matches!(p.msg_type(), 135 | 136) {
            let _ = (p.target_addr(), p.ndp_options().len());
        }
    }
    let p = Icmpv6Packet::new_unchecked(msg);
    let verified = Icmpv6Repr::parse(&p, src, dst, ChecksumPolicy::Verify);
    let skipped = Icmpv6Repr::parse(&p, src, dst, ChecksumPolicy::Skip);
    if let Ok(v) = verified {
        assert_eq!(skipped, Ok(v));
    }
    if let Ok(repr) = skipped {
        if let Some(q) = repr.quote() {
            let _ = Icmpv6TcpQuote::parse(q);
        }
        let ip = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Unknown(58),
            payload_len: msg.len(),
            hop_limit: msg.last().copied().unwrap_or(255),
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        let _ = repr.check_ndp(&ip);
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst)
            .expect("emit into buffer_len() bytes");
        let again = Icmpv6Repr::parse(
            &Icmpv6Packet::new_unchecked(&buf[..]),
            src,
            dst,
            ChecksumPolicy::Verify,
        );
        assert_eq!(again, Ok(repr));
    }
});
