//! Ethernet: no panic on any bytes; what parses re-emits and parses again
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{EthernetFrame, EthernetRepr};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = EthernetFrame::new_checked(data) {
        // No accessor panics after new_checked.
        let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
        let _ = f.dst_addr().is_multicast();
    }
    if let Ok(repr) = EthernetRepr::parse(&EthernetFrame::new_unchecked(data)) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]))
            .expect("emit into buffer_len() bytes");
        assert_eq!(&buf[..], &data[..buf.len()]);
        let again = EthernetRepr::parse(&EthernetFrame::new_unchecked(&buf[..]));
        assert_eq!(again, Ok(repr));
    }
});
