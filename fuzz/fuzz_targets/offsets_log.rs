//! Any bytes as a read of the `__consumer_offsets` log at replay: batches are split and their
//! records read without trusting a size, and records the coordinator does not know are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut seen = 0usize;
    kop::group::log_records(data, 0, |_| seen += 1);
});
