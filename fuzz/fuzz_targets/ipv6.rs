//! IPv6: no panic on any bytes, nor in the extension-header walk; what
//! parses re-emits and parses again to the same value, with the same 40
//! header bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{walk_ext_headers, Ipv6ExtError, Ipv6Packet, Ipv6Repr};

fuzz_target!(|data: &[u8]| {
    // The walk on its own, the first byte as the next header.
    if let Some((&first, rest)) = data.split_first() {
        match walk_ext_headers(first, rest) {
            Ok(up) => {
                assert!(up.offset >= 40 && up.offset - 40 <= rest.len());
                assert_eq!(up.payload, &rest[up.offset - 40..]);
                assert!(up.next_header_pointer < up.offset);
            }
            Err(Ipv6ExtError::ParameterProblem(pp)) => {
                assert!((pp.pointer as usize) < 40 + rest.len());
            }
            Err(_) => {}
        }
    }
    let _ = Ipv6Packet::new_unchecked(data).upper_layer();
    if let Ok(p) = Ipv6Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.traffic_class(),
            p.dscp(),
            p.ecn(),
            p.flow_label(),
            p.payload_len(),
            p.next_header(),
            p.hop_limit(),
            p.src_addr(),
            p.dst_addr(),
            p.payload().len(),
            p.upper_layer(),
        );
    }
    if let Ok(repr) = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(data)) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]))
            .expect("emit into buffer_len() bytes");
        assert_eq!(buf[..40], data[..40]);
        let again = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&buf[..]));
        assert_eq!(again, Ok(repr));
    }
});
