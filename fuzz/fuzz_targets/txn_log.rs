//! Any bytes as a read of the `__transaction_state` log at replay, and as a stored batch whose
//! transaction role a partition's restore reads: nothing is trusted, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kop::partition::internal_log::log_entries("__transaction_state", data, 0, |entry| {
        if let kop::partition::internal_log::Entry::Record { key, value, .. } = entry {
            let _ = kop::txn::records::decode_key(key);
            let _ = value.and_then(kop::txn::records::decode_value);
        }
    });
    let _ = kop::protocol::control::role(data);
});
