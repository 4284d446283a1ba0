//! Any bytes as the client's first SASL message, for each mechanism kop offers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kop::handlers::sasl::parse_plain(data);
    let _ = kop::handlers::sasl::parse_oauthbearer(data);
});
