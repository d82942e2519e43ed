//! ICMPv4: no panic on any bytes; the checksum verified or not gives the
//! same value; what parses re-emits and parses again to the same value; the
//! quote helper never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{ChecksumPolicy, Icmpv4Packet, Icmpv4Repr, Icmpv4TcpQuote};

fuzz_target!(|data: &[u8]| {
    let _ = Icmpv4TcpQuote::parse(data);
    if let Ok(p) = Icmpv4Packet::new_checked(data) {
        let _ = (
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq_no(),
            p.next_hop_mtu(),
            p.rest_of_header(),
            p.data().len(),
            p.verify_checksum(),
        );
    }
    let verified = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(data), ChecksumPolicy::Verify);
    let skipped = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(data), ChecksumPolicy::Skip);
    if let Ok(v) = verified {
        assert_eq!(skipped, Ok(v));
    }
    if let Ok(repr) = skipped {
        if let Some(q) = repr.quote() {
            let _ = Icmpv4TcpQuote::parse(q);
        }
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]))
            .expect("emit into buffer_len() bytes");
        let again = Icmpv4Repr::parse(
            &Icmpv4Packet::new_unchecked(&buf[..]),
            ChecksumPolicy::Verify,
        );
        assert_eq!(again, Ok(repr));
    }
});
