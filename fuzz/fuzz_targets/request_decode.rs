//! Any bytes as a request of any served API and version: the header and body decode through
//! the bounded decoder or fail, and nothing allocates by a count read off the input.
#![no_main]

use bytes::Bytes;
use kafka_protocol::messages::RequestHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (pick, rest) = data.split_at(4);
    let apis = kop::handlers::supported_apis();
    let (api, range) = apis[usize::from(u16::from_be_bytes([pick[0], pick[1]])) % apis.len()];
    let span = (range.max - range.min + 1) as u16;
    let version = range.min + (u16::from_be_bytes([pick[2], pick[3]]) % span) as i16;
    let mut body = Bytes::copy_from_slice(rest);
    if kop::protocol::bounded::decode_prefix::<RequestHeader>(&mut body, api.request_header_version(version)).is_ok() {
        let _ = kop::handlers::decode_only(api, version, &body);
    }
});
