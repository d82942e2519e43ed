//! IPv4: no panic on any bytes; what parses re-emits and parses again to
//! the same value (options are not emitted, so they are not compared).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{ChecksumPolicy, Ipv4Packet, Ipv4Repr};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Ipv4Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.header_len(),
            p.dscp(),
            p.ecn(),
            p.total_len(),
            p.ident(),
            p.dont_frag(),
            p.more_frags(),
            p.frag_offset(),
            p.ttl(),
            p.protocol(),
            p.checksum(),
            p.src_addr(),
            p.dst_addr(),
            p.options().len(),
            p.payload().len(),
            p.verify_checksum(),
        );
    }
    let verified = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(data), ChecksumPolicy::Verify);
    let skipped = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(data), ChecksumPolicy::Skip);
    if let Ok(v) = verified {
        assert_eq!(skipped, Ok(v));
    }
    if let Ok(repr) = skipped {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]))
            .expect("emit into buffer_len() bytes");
        let again = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&buf[..]), ChecksumPolicy::Verify);
        assert_eq!(again, Ok(repr));
    }
});
