//! Paths, query strings, index expressions and bodies: classification must never panic.
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run classify
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::classify::{self, expr, Head};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (target, body) = text.split_once('\n').unwrap_or((text, ""));
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let head = Head { method, target, content_type: None, content_encoding: None, has_body: !body.is_empty() };
        if let Ok(mut c) = classify::classify(&head, 1_700_000_000_000) {
            let _ = classify::inspect_body(&mut c, body.as_bytes(), 1_700_000_000_000);
        }
    }
    let _ = expr::parse(target, expr::Arity::Many, 0);
});
