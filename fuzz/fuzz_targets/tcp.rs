//! TCP: the first 8 bytes are the pseudo-header's addresses, the rest the
//! segment. No panic on any bytes; what parses re-emits and parses again
//! to the same value.
#![no_main]

use core::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{ChecksumPolicy, TcpOptions, TcpPacket, TcpRepr};

fuzz_target!(|data: &[u8]| {
    let Some((addrs, seg)) = data.split_first_chunk::<8>() else {
        return;
    };
    let src = Ipv4Addr::new(addrs[0], addrs[1], addrs[2], addrs[3]);
    let dst = Ipv4Addr::new(addrs[4], addrs[5], addrs[6], addrs[7]);
    if let Ok(p) = TcpPacket::new_checked(seg) {
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.seq_number(),
            p.ack_number(),
            p.header_len(),
            p.flags(),
            p.window_len(),
            p.checksum(),
            p.urgent_at(),
            p.options().len(),
            p.payload().len(),
            p.verify_checksum(src, dst),
        );
    }
    if let Ok(opts) = TcpOptions::parse(seg) {
        let mut buf = [0u8; 40];
        let n = opts.emit_into(&mut buf).expect("options fit in 40 bytes");
        assert_eq!(n, opts.buffer_len());
        if seg.len() <= 40 {
            assert_eq!(TcpOptions::parse(&buf[..n]), Ok(opts));
        }
    }
    let verified = TcpRepr::parse(
        &TcpPacket::new_unchecked(seg),
        src,
        dst,
        ChecksumPolicy::Verify,
    );
    let skipped = TcpRepr::parse(
        &TcpPacket::new_unchecked(seg),
        src,
        dst,
        ChecksumPolicy::Skip,
    );
    if let Ok(v) = verified {
        assert_eq!(skipped, Ok(v));
    }
    if let Ok(repr) = skipped {
        let _ = (repr.flags(), repr.segment_len());
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst)
            .expect("emit into buffer_len() bytes");
        let again = TcpRepr::parse(
            &TcpPacket::new_unchecked(&buf[..]),
            src,
            dst,
            ChecksumPolicy::Verify,
        );
        assert_eq!(again, Ok(repr));
    }
});
