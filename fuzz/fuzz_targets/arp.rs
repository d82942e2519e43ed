//! ARP: no panic on any bytes; what parses re-emits and parses again to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{ArpPacket, ArpRepr};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ArpPacket::new_checked(data) {
        let _ = (
            p.hardware_type(),
            p.protocol_type(),
            p.hardware_len(),
            p.protocol_len(),
            p.operation(),
            p.source_hardware_addr(),
            p.source_protocol_addr(),
            p.target_hardware_addr(),
            p.target_protocol_addr(),
        );
    }
    if let Ok(repr) = ArpRepr::parse(&ArpPacket::new_unchecked(data)) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]))
            .expect("emit into buffer_len() bytes");
        assert_eq!(&buf[..], &data[..buf.len()]);
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&buf[..])),
            Ok(repr)
        );
    }
});
