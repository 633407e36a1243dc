//! The NDJSON scanner and item parsers: never panic, whatever the bytes and chunking.
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run ndjson
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice::classify::ndjson;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let mut s = ndjson::LineScanner::new(256);
    for chunk in body.chunks(usize::from(cut).max(1)) {
        let _ = s.feed(Bytes::copy_from_slice(chunk), |line| {
            let _ = ndjson::bulk_action(&line, Some("d"), 0);
            let _ = ndjson::msearch_header(&line, None, 0);
            Ok::<_, ()>(())
        });
    }
    let _ = s.finish();
});
