//! Any bytes as a request frame (what follows the size on the wire): for an API and version
//! kop serves, the header and body decode through the bounded decoder or fail, and nothing
//! allocates by a count read off the input.
#![no_main]

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [k0, k1, v0, v1, ..] = *data else { return };
    let (api_key, version) = (i16::from_be_bytes([k0, k1]), i16::from_be_bytes([v0, v1]));
    let Ok(api) = ApiKey::try_from(api_key) else { return };
    let served = kop::handlers::supported_apis()
        .into_iter()
        .any(|(a, range)| a == api && kop::handlers::in_range(range, version));
    if !served {
        return;
    }
    let mut body = Bytes::copy_from_slice(data);
    if kop::protocol::bounded::decode_prefix::<RequestHeader>(&mut body, api.request_header_version(version)).is_ok() {
        let _ = kop::handlers::decode_only(api, version, &body);
    }
});
