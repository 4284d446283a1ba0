//! Any bytes as a record batch: its records are read with every length checked and
//! decompression capped, or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kop::protocol::records::records(data, 1 << 20);
});
