//! Property tests for the parsers that read untrusted input: no input makes them panic, and
//! the NDJSON scanner finds the same lines however the body is cut into chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use proptest::prelude::*;
use sluice::classify::{self, expr, ndjson, path, query_lang, Head};

fn target_strategy() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        Just("_search".to_string()),
        Just("_doc".to_string()),
        Just("_bulk".to_string()),
        Just("%3Clogs-%7Bnow%2Fd%7D%3E".to_string()),
        Just("..".to_string()),
        Just("".to_string()),
        "[a-z0-9%*,:<>{}./_-]{0,12}",
        ".{0,8}",
    ];
    (prop::collection::vec(seg, 0..6), prop::option::of(".{0,20}"))
        .prop_map(|(segs, q)| format!("/{}{}", segs.join("/"), q.map(|q| format!("?{q}")).unwrap_or_default()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn classify_never_panics(method in prop_oneof![Just("GET".to_string()), Just("POST".to_string()), Just("PUT".to_string()), Just("DELETE".to_string()), "[A-Z]{1,7}"],
                             target in target_strategy(), body in prop::option::of(".{0,64}")) {
        let head = Head { method: &method, target: &target, content_type: None, content_encoding: None, has_body: body.is_some() };
        if let Ok(mut c) = classify::classify(&head, 1_700_000_000_000) {
            let _ = classify::inspect_body(&mut c, body.unwrap_or_default().as_bytes(), 1_700_000_000_000);
        }
    }

    #[test]
    fn paths_never_panic(target in ".{0,64}") {
        let _ = path::split(&target);
        let _ = path::decode(&target, true);
    }

    #[test]
    fn index_expressions_never_panic(e in "[-a-z0-9*,:<>{}/|+._ ]{0,40}", now in any::<i64>()) {
        let _ = expr::parse(&e, expr::Arity::Many, now);
        let _ = expr::parse(&e, expr::Arity::One, now);
    }

    #[test]
    fn date_math_never_panics(e in "<[a-z-]{0,5}\\{now[-+/0-9yMwdhHms]{0,10}(\\{[yMdHms.|+:0-9]{0,12}\\})?\\}>", now in any::<i64>()) {
        let _ = classify::datemath::resolve(&e, now);
    }

    #[test]
    fn templates_never_panic(src in prop::collection::vec(prop_oneof![Just("{{".to_string()), Just("}}".to_string()), Just("{{{".to_string()),
                                 Just("}}}".to_string()), Just("#toJson".to_string()), Just("/toJson".to_string()), Just("#join".to_string()),
                                 Just("&".to_string()), Just("!".to_string()), Just("a".to_string()), Just("a.b".to_string()), "[^{}]{0,3}"], 0..16)) {
        let params = serde_json::json!({"a": {"b": "x"}, "l": ["y", 1]});
        let _ = classify::mustache::render(&src.concat(), &params);
    }

    #[test]
    fn query_languages_never_panic(q in ".{0,80}") {
        let _ = query_lang::sql(&q);
        let _ = query_lang::esql(&q);
        let _ = query_lang::ppl(&q);
    }

    #[test]
    fn ndjson_lines_do_not_depend_on_chunking(body in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'{'), Just(b'}'), any::<u8>()], 0..400),
                                             cuts in prop::collection::vec(1usize..50, 0..20)) {
        let whole = lines_of(&body, &[body.len().max(1)]);
        let chunked = lines_of(&body, &cuts);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn ndjson_item_parsers_never_panic(line in prop::collection::vec(any::<u8>(), 0..120)) {
        let _ = ndjson::bulk_action(&line, Some("dflt"), 0);
        let _ = ndjson::msearch_header(&line, None, 0);
    }

    #[test]
    fn classify_line_never_panics(line in ".{0,120}") {
        let _ = classify::classify_line(&line, 0);
    }
}

/// Lines found when `body` is fed in chunks of the given sizes (cycled).
fn lines_of(body: &[u8], cuts: &[usize]) -> Result<Vec<Vec<u8>>, ndjson::ScanError> {
    let mut s = ndjson::LineScanner::new(1 << 20);
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < body.len() {
        let n = cuts.get(i % cuts.len().max(1)).copied().unwrap_or(body.len()).max(1).min(body.len() - at);
        s.feed(Bytes::copy_from_slice(&body[at..at + n]), |l| {
            out.push(l.to_vec());
            Ok::<_, ()>(())
        })
        .map_err(|e| e.unwrap_or(ndjson::ScanError::LineTooLong(0)))?;
        at += n;
        i += 1;
    }
    if let Some(l) = s.finish() {
        out.push(l.to_vec());
    }
    Ok(out)
}
