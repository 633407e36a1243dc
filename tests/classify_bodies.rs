//! Table-driven classification: every place a target hides (path, query string, body, query
//! text, NDJSON items), odd encodings, continuation ids, and each refusal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sluice::classify::{self, Head};

/// 2024-03-22T12:34:56Z, for date math.
const NOW: i64 = 1_711_110_896_000;

/// Classifies and renders targets as `name:priv+priv` (sorted), or `refused:STATUS:reason`.
fn run(method: &str, target: &str, body: Option<&str>) -> Vec<String> {
    let head = Head { method, target, content_type: Some("application/json"), content_encoding: None, has_body: body.is_some() };
    let result = classify::classify(&head, NOW).and_then(|mut c| {
        if let Some(b) = body {
            classify::inspect_body(&mut c, b.as_bytes(), NOW)?;
        }
        Ok(c)
    });
    match result {
        Ok(c) => {
            let mut v: Vec<String> = c
                .targets
                .iter()
                .map(|t| format!("{}:{}", t.index.render(), t.privileges.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("+")))
                .collect();
            v.sort();
            v.dedup();
            v
        }
        Err(r) => vec![format!("refused:{}:{}", r.status, r.reason)],
    }
}

fn check(cases: &[(&str, &str, Option<&str>, &[&str])]) {
    let mut failures = Vec::new();
    for (method, target, body, want) in cases {
        let got = run(method, target, *body);
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        if want.len() == 1 && want[0].starts_with("refused") {
            if !got[0].starts_with("refused") {
                failures.push(format!("{method} {target} {body:?}: expected a refusal, got {got:?}"));
            }
        } else if got != want {
            failures.push(format!("{method} {target} {body:?}:\n   got  {got:?}\n   want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn path_and_query_targets() {
    check(&[
        ("GET", "/logs-*,-logs-secret/_search", None, &["logs-*:read", "-logs-secret:read"]),
        ("GET", "/_search", None, &["*:read"]),
        ("GET", "/_all/_search", None, &["*:read"]),
        ("GET", "/_search?index=secret", None, &["secret:read"]),
        ("GET", "/logs/_search?index=secret", None, &["refused"]),
        ("GET", "/%3Clogs-%7Bnow%2Fd%7D%3E/_search", None, &["logs-2024.03.22:read"]),
        ("GET", "/remote:logs-*,*:metrics/_search", None, &["remote:logs-*:read", "*:metrics:read"]),
        ("GET", "/logs::failures/_search", None, &["logs::failures:read"]),
        ("GET", "/logs/_doc/1", None, &["logs:read"]),
        ("PUT", "/logs/_doc/1", Some("{}"), &["logs:index"]),
        ("DELETE", "/logs/_doc/1", None, &["logs:delete"]),
        ("PUT", "/logs/_create/1", Some("{}"), &["logs:create"]),
        ("POST", "/logs/_update/1", Some("{}"), &["logs:write"]),
        ("PUT", "/new-index", None, &["new-index:create_index"]),
        ("DELETE", "/old-*", None, &["old-*:delete_index"]),
        ("GET", "/logs/_mapping", None, &["logs:view_index_metadata"]),
        ("GET", "/_mapping", None, &["*:view_index_metadata"]),
        ("POST", "/_refresh", None, &["*:maintenance"]),
        ("POST", "/logs/_clone/logs-copy", None, &["logs:manage", "logs-copy:create_index+manage"]),
        ("POST", "/logs/_rollover/logs-000002", None, &["logs:manage", "logs-000002:create_index"]),
        ("GET", "/.kibana/_search", None, &[".kibana:read"]),
        ("GET", "/_cat/recovery?index=logs", None, &["logs:monitor"]),
        ("GET", "/_text_structure/find_field_structure?index=logs&field=message", None, &["logs:read"]),
        ("POST", "/logs/_search/", None, &["logs:read"]),
        ("POST", "/logs/_pit?keep_alive=1m", None, &["logs:read"]),
    ]);
}

#[test]
fn odd_forms_are_refused() {
    check(&[
        ("GET", "/logs//_search", None, &["refused"]),
        // Forms that would act on Sluice's own service account at the cluster.
        ("PUT", "/_security/user/_password", Some(r#"{"password":"x"}"#), &["refused"]),
        ("POST", "/_security/user/_password", Some(r#"{"password":"x"}"#), &["refused"]),
        ("PUT", "/_security/user/bob/_password", Some(r#"{"password":"x"}"#), &[]),
        ("POST", "/_security/oauth2/token", Some(r#"{"grant_type":"client_credentials"}"#), &["refused"]),
        ("POST", "/_security/oauth2/token", Some(r#"{"grant_type":"password","username":"u","password":"p"}"#), &[]),
        ("GET", "/logs/./_search", None, &["refused"]),
        ("GET", "/logs/../_search", None, &["refused"]),
        ("GET", "/%2e%2e/_search", None, &["refused"]),
        ("GET", "/_secret/_search", None, &["refused"]),
        ("GET", "/%5Fsecret/_search", None, &["refused"]),
        ("GET", "/logs%20x/_search", None, &["refused"]),
        ("GET", "/logs%zz/_search", None, &["refused"]),
        ("GET", "/%C3%28/_search", None, &["refused"]),
        ("GET", "/logs/_SEARCH", None, &["refused"]),
        ("GET", "/a,,b/_search", None, &["refused"]),
        ("GET", "/%3Clogs-%7Bnow%2Fd%7BEEE%7D%7D%3E/_search", None, &["refused"]),
        ("GET", "/logs/_search?index=a&index=b", None, &["refused"]),
        ("GET", "/logs/_search?source=%7B%7D", None, &["refused"]),
        ("PATCH", "/logs/_search", None, &["refused"]),
        ("GET", "/no/such/api/here/at/all", None, &["refused"]),
        ("PUT", "/logs-*", None, &["refused"]),
    ]);
}

#[test]
fn search_bodies_that_read_other_indices() {
    let lookup = r#"{"query":{"bool":{"filter":[{"terms":{"user":{"index":"users","id":"1","path":"ids"}}}]}}}"#;
    let mlt = r#"{"query":{"more_like_this":{"fields":["t"],"like":[{"_index":"other","_id":"1"},"free text"]}}}"#;
    let shape = r#"{"query":{"geo_shape":{"loc":{"indexed_shape":{"index":"shapes-x","id":"1","path":"s"}}}}}"#;
    let shape_default = r#"{"query":{"shape":{"geometry":{"indexed_shape":{"id":"1"}}}}}"#;
    let perc = r#"{"query":{"percolate":{"field":"q","index":"docs","id":"2"}}}"#;
    let pinned = r#"{"query":{"pinned":{"docs":[{"_index":"promo","_id":"1"}],"organic":{"match_all":{}}}}}"#;
    let runtime = r#"{"runtime_mappings":{"who":{"type":"lookup","target_index":"people","input_field":"uid","target_field":"id","fetch_fields":["name"]}}}"#;
    let knn = r#"{"knn":{"field":"v","k":5,"num_candidates":10,"query_vector_builder":{"lookup":{"index":"vectors","id":"1","path":"v"}}}}"#;
    let boost = r#"{"indices_boost":[{"logs-a":1.5},{"logs-b":0.5}]}"#;
    let boost_map = r#"{"indices_boost":{"logs-c":2}}"#;
    let aggs = r#"{"aggs":{"f":{"filter":{"terms":{"u":{"index":"in-agg","id":"1","path":"p"}}}}}}"#;
    let field_named_terms = r#"{"query":{"term":{"terms":"x"}}}"#;
    check(&[
        ("POST", "/logs/_search", Some(lookup), &["logs:read", "users:read"]),
        ("POST", "/logs/_search", Some(mlt), &["logs:read", "other:read"]),
        ("POST", "/logs/_search", Some(shape), &["logs:read", "shapes-x:read"]),
        ("POST", "/logs/_search", Some(shape_default), &["logs:read", "shapes:read"]),
        ("POST", "/logs/_search", Some(perc), &["logs:read", "docs:read"]),
        ("POST", "/logs/_search", Some(pinned), &["logs:read", "promo:read"]),
        ("POST", "/logs/_search", Some(runtime), &["logs:read", "people:read"]),
        ("POST", "/logs/_search", Some(knn), &["logs:read", "vectors:read"]),
        ("POST", "/logs/_search", Some(boost), &["logs:read", "logs-a:read", "logs-b:read"]),
        ("POST", "/logs/_search", Some(boost_map), &["logs:read", "logs-c:read"]),
        ("POST", "/logs/_search", Some(aggs), &["logs:read", "in-agg:read"]),
        ("POST", "/logs/_search", Some(field_named_terms), &["logs:read"]),
        ("POST", "/logs/_count", Some(lookup), &["logs:read", "users:read"]),
        ("POST", "/logs/_delete_by_query", Some(lookup), &["logs:read+delete", "users:read"]),
        ("POST", "/logs/_async_search", Some(lookup), &["logs:read", "users:read"]),
        ("POST", "/logs/_search", Some("{not json"), &["refused"]),
        ("POST", "/logs/_search", Some("[1,2]"), &["refused"]),
        // Bodies that name no index are only validated, and still refused when not JSON.
        ("POST", "/logs/_search", Some(r#"{"query":{"match_all":{}}"#), &["refused"]),
        ("POST", "/logs/_search", Some(r#"{"size":1} {"size":2}"#), &["refused"]),
        ("POST", "/logs/_search", Some(r#"{"query":{"match":{"m":"a \"quoted\" word"}}}"#), &["logs:read"]),
        ("POST", "/logs/_search", Some(r#"{"query":{"terms":{"u":{"\u0069ndex":"users","id":"1","path":"p"}}}}"#), &["logs:read", "users:read"]),
        ("POST", "/logs/_search", Some(""), &["logs:read"]),
    ]);
}

#[test]
fn other_bodies() {
    check(&[
        ("POST", "/_reindex", Some(r#"{"source":{"index":"src-*"},"dest":{"index":"dst"}}"#), &["src-*:read", "dst:write"]),
        ("POST", "/_reindex", Some(r#"{"source":{"index":["a","b"],"query":{"terms":{"f":{"index":"lk","id":"1","path":"p"}}}},"dest":{"index":"d"}}"#),
            &["a:read", "b:read", "d:write", "lk:read"]),
        ("POST", "/_aliases", Some(r#"{"actions":[{"add":{"index":"logs-1","alias":"logs"}},{"remove":{"indices":["old"],"aliases":["a1"]}},{"remove_index":{"index":"gone"}}]}"#),
            &["logs-1:manage", "logs:manage", "old:manage", "a1:manage", "gone:delete_index"]),
        ("POST", "/_aliases", Some(r#"{"actions":[{"rename":{}}]}"#), &["refused"]),
        ("POST", "/_data_stream/_modify", Some(r#"{"actions":[{"add_backing_index":{"data_stream":"ds","index":".ds-x"}}]}"#), &["ds:manage", ".ds-x:manage"]),
        ("POST", "/_mget", Some(r#"{"docs":[{"_index":"a","_id":"1"},{"_index":"b","_id":"2"}]}"#), &["a:read", "b:read"]),
        ("POST", "/_mtermvectors", Some(r#"{"docs":[{"_index":"a","_id":"1"}]}"#), &["a:read"]),
        ("POST", "/logs/_rank_eval", Some(r#"{"requests":[{"id":"q","request":{"query":{"match_all":{}}},"ratings":[{"_index":"other","_id":"1","rating":1}]}]}"#),
            &["logs:read", "other:read"]),
        ("POST", "/_snapshot/repo/snap/_restore", Some(r#"{"indices":"logs-*"}"#), &["logs-*:create_index+manage"]),
        // A search application is searched through its backing alias, named like it.
        ("POST", "/_application/search_application/app/_search", Some(r#"{"params":{"q":"x"}}"#), &["app:read"]),
        ("POST", "/_application/search_application/app*/_search", None, &["refused:400:invalid index expression: [app*]: wildcards and exclusions are not allowed here"]),
        // OpenSearch ML trains and predicts on the documents of `input_index` (and its query).
        ("POST", "/_plugins/_ml/_train/kmeans", Some(r#"{"input_query":{"query":{"terms":{"f":{"index":"lk","id":"1","path":"p"}}}},"input_index":["logs"]}"#), &["logs:read", "lk:read"]),
        ("POST", "/_plugins/_ml/_predict/kmeans/m1", Some(r#"{"input_index":["logs"]}"#), &["logs:read"]),
        // An ES|QL view is read later by its name: its creator must read what it reads.
        ("PUT", "/_query/view/v", Some(r#"{"query":"FROM logs-* | LIMIT 5"}"#), &["v:create_view", "logs-*:read"]),
        ("PUT", "/_enrich/policy/p", Some(r#"{"match":{"indices":"users","match_field":"a","enrich_fields":["b"]}}"#), &["users:read"]),
        // A reindex script may send documents anywhere (ctx._index): every index.
        ("POST", "/_reindex", Some(r#"{"source":{"index":"a"},"dest":{"index":"b"},"script":{"source":"ctx._index = 'secret'"}}"#), &["a:read", "b:write", "*:write"]),
        ("POST", "/_reindex", Some(r#"{"source":{"index":"a"},"dest":{"index":"b"},"script":{"id":"stored"}}"#), &["a:read", "b:write", "*:write"]),
        ("POST", "/_reindex", Some(r#"{"source":{"index":"a"},"dest":{"index":"b"},"script":null}"#), &["a:read", "b:write"]),
        // Restoring every index of the snapshot, or under names a pattern makes: any index.
        ("POST", "/_snapshot/repo/snap/_restore", None, &["*:create_index+manage"]),
        ("POST", "/_snapshot/repo/snap/_restore", Some("{}"), &["*:create_index+manage"]),
        ("POST", "/_snapshot/repo/snap/_restore", Some(r#"{"indices":[],"include_global_state":false}"#), &["*:create_index+manage"]),
        ("POST", "/_snapshot/repo/snap/_restore", Some(r#"{"indices":"logs-1","rename_pattern":"(.+)","rename_replacement":"secret-$1"}"#), &["logs-1:create_index+manage", "*:create_index+manage"]),
        ("POST", "/_snapshot/repo/snap/_restore", Some("[]"), &["refused:400:request body must be a JSON object"]),
        ("PUT", "/_transform/t1", Some(r#"{"source":{"index":"src"},"dest":{"index":"dst"},"pivot":{}}"#), &["src:read+view_index_metadata", "dst:create_index+index"]),
        ("PUT", "/_enrich/policy/p", Some(r#"{"match":{"indices":"users","match_field":"id","enrich_fields":["n"]}}"#), &["users:read"]),
        ("POST", "/_scripts/painless/_execute", Some(r#"{"script":{"source":"1"},"context":"score","context_setup":{"index":"logs","document":{}}}"#), &["logs:read"]),
        ("PUT", "/_index_template/t", Some(r#"{"index_patterns":["anything-*"],"template":{"aliases":{"x":{}}}}"#), &[]),
        ("POST", "/logs/_search/template", Some(r#"{"source":{"query":{"terms":{"f":{"index":"lk","id":"1","path":"p"}}}}}"#), &["logs:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"query\":{\"match\":{\"a\":\"{{q}}\"}}}","params":{"q":"x"}}"#), &["logs:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"query\":{\"terms\":{\"f\":{\"index\":\"{{i}}\"}}}}"}"#), &["refused"]),
        // Templates are read as they render: parameters may carry whole queries, a key may be
        // spelled across a tag, an object source holds tags too.
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"query\":{\"terms\":{\"f\":{\"index\":\"{{i}}\",\"id\":\"1\",\"path\":\"p\"}}}}","params":{"i":"lk"}}"#), &["logs:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"query\":{{#toJson}}q{{/toJson}}}","params":{"q":{"terms":{"f":{"index":"lk","id":"1","path":"p"}}}}}"#), &["logs:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"query\":{{{q}}}}","params":{"q":"{\"terms\":{\"f\":{\"index\":\"lk\",\"id\":\"1\",\"path\":\"p\"}}}"}}"#), &["logs:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"query\":{\"terms\":{\"f\":{\"{{a}}dex\":\"lk\",\"id\":\"1\",\"path\":\"p\"}}}}","params":{"a":"in"}}"#), &["logs:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":{"query":{"terms":{"f":{"index":"{{i}}","id":"1","path":"p"}}}},"params":{"i":"lk"}}"#), &["logs:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{{#cond}}{\"size\":1}{{/cond}}","params":{"cond":true}}"#), &["refused"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"size\":{{missing}}}"}"#), &["refused"]),
        ("POST", "/logs/_search/template", Some(r#"{"source":"{\"size\":"}"#), &["refused"]),
        ("POST", "/_msearch/template", Some("{\"index\":\"a\"}\n{\"source\":\"{\\\"query\\\":{{#toJson}}q{{/toJson}}}\",\"params\":{\"q\":{\"terms\":{\"f\":{\"index\":\"lk\",\"id\":\"1\",\"path\":\"p\"}}}}}\n"), &["a:read", "lk:read"]),
        ("POST", "/logs/_search/template", Some(r#"{"id":"stored"}"#), &["refused"]),
    ]);
}

#[test]
fn ndjson_items() {
    let bulk = "{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n{\"create\":{\"_id\":\"2\"}}\n{\"f\":2}\n{\"update\":{\"_index\":\"b\",\"_id\":\"3\"}}\n{\"doc\":{}}\n{\"delete\":{\"_index\":\"c\",\"_id\":\"4\"}}\n";
    let msearch = "{\"index\":\"a\"}\n{\"query\":{\"match_all\":{}}}\n{}\n{\"query\":{\"terms\":{\"f\":{\"index\":\"lk\",\"id\":\"1\",\"path\":\"p\"}}}}\n";
    check(&[
        ("POST", "/dflt/_bulk", Some(bulk), &["a:index", "dflt:create_doc", "b:index", "c:delete"]),
        ("POST", "/_bulk", Some(bulk), &["refused"]),
        ("POST", "/_bulk", Some("{\"index\":{\"_index\":\"a\"}}\n"), &["refused"]),
        ("POST", "/_bulk", Some("{\"index\":{\"_index\":\"a\"}}\n{}\n{oops}\n{}\n"), &["refused"]),
        ("POST", "/_bulk?index=q", Some("{\"delete\":{\"_id\":\"1\"}}\n"), &["q:delete"]),
        ("POST", "/dflt/_msearch", Some(msearch), &["a:read", "dflt:read", "lk:read"]),
        ("POST", "/_msearch", Some(msearch), &["a:read", "*:read", "lk:read"]),
        // A search over a point in time with no index of its own names nothing in its header.
        ("POST", "/_msearch", Some("{}\n{\"pit\":{\"id\":\"P\"}}\n{\"index\":\"b\"}\n{\"pit\":{\"id\":\"Q\"}}\n"), &["b:read"]),
        ("POST", "/_msearch", Some("{}\n{\"query\":{\"term\":{\"pit\":{\"id\":\"x\"}}}}\n"), &["*:read"]),
        ("POST", "/dflt/_msearch", Some("{}\n{\"pit\":{\"id\":\"P\"}}\n"), &["dflt:read"]),
        ("POST", "/_msearch", Some("{\"index\":\"a\"}\n"), &["refused"]),
        ("POST", "/_msearch/template", Some("{\"index\":\"a\"}\n{\"id\":\"stored\"}\n"), &["refused"]),
        ("POST", "/_msearch/template", Some("{\"index\":\"a\"}\n{\"source\":{\"query\":{\"match_all\":{}}}}\n"), &["a:read"]),
    ]);
}

#[test]
fn query_languages() {
    check(&[
        ("POST", "/_query", Some(r#"{"query":"FROM logs-*, metrics | LOOKUP JOIN users ON uid | LIMIT 5"}"#), &["logs-*:read", "metrics:read", "users:read"]),
        ("POST", "/_query/async", Some(r#"{"query":"FROM remote:logs"}"#), &["remote:logs:read"]),
        ("POST", "/_query", Some(r#"{"query":"FROM logs | ENRICH p"}"#), &["refused"]),
        ("POST", "/_query", Some(r#"{"query":"FROM <logs-{now/d}>"}"#), &["logs-2024.03.22:read"]),
        ("POST", "/_query", Some(r#"{}"#), &["refused"]),
        ("POST", "/_sql", Some(r#"{"query":"SELECT * FROM \"logs-*\" WHERE a = 'FROM x'"}"#), &["logs-*:read"]),
        ("POST", "/_sql", Some(r#"{"query":"DESCRIBE logs"}"#), &["logs:view_index_metadata"]),
        ("POST", "/_sql", Some(r#"{"query":"SHOW TABLES"}"#), &["*:view_index_metadata"]),
        ("POST", "/_sql", Some(r#"{"cursor":"abc"}"#), &[]),
        // A point in time names the indices (it was opened on them): no implicit `_all` to
        // narrow into the path, which Elasticsearch would refuse; only at the top level.
        ("POST", "/_search", Some(r#"{"pit":{"id":"P1"},"query":{"match_all":{}}}"#), &[]),
        ("POST", "/_search", Some(r#"{"query":{"bool":{"filter":{"term":{"pit":{"id":"x"}}}}}}"#), &["*:read"]),
        ("POST", "/logs/_search", Some(r#"{"pit":{"id":"P1"}}"#), &["logs:read"]),
        ("POST", "/_sql/translate", Some(r#"{"query":"SELECT a FROM logs"}"#), &["logs:read"]),
        ("POST", "/_plugins/_sql", Some(r#"{"query":"SELECT * FROM a JOIN b ON a.x = b.x"}"#), &["a:read", "b:read"]),
        ("POST", "/_plugins/_ppl", Some(r#"{"query":"source=logs-*, metrics | where a > 1"}"#), &["logs-*:read", "metrics:read"]),
        ("POST", "/_plugins/_ppl", Some(r#"{"query":"source=a | join left=l right=r b"}"#), &["refused"]),
    ]);
}

#[test]
fn continuation_ids() {
    let uses = |method: &str, target: &str, body: Option<&str>| {
        let head = Head { method, target, content_type: None, content_encoding: None, has_body: body.is_some() };
        let mut c = classify::classify(&head, NOW).unwrap();
        if let Some(b) = body {
            classify::inspect_body(&mut c, b.as_bytes(), NOW).unwrap();
        }
        (c.uses.iter().map(|u| format!("{:?}:{}", u.kind, u.id)).collect::<Vec<_>>(), c.creates.map(|k| format!("{k:?}")))
    };
    assert_eq!(uses("POST", "/_search/scroll", Some(r#"{"scroll_id":"S1","scroll":"1m"}"#)).0, vec!["Scroll:S1"]);
    assert_eq!(uses("GET", "/_search/scroll/S2", None).0, vec!["Scroll:S2"]);
    assert_eq!(uses("GET", "/_search/scroll?scroll_id=S3", None).0, vec!["Scroll:S3"]);
    assert_eq!(uses("DELETE", "/_search/scroll", Some(r#"{"scroll_id":["A","B"]}"#)).0, vec!["Scroll:A", "Scroll:B"]);
    assert_eq!(uses("DELETE", "/_search/scroll/A,B", None).0, vec!["Scroll:A", "Scroll:B"]);
    assert_eq!(uses("POST", "/_plugins/_sql/close", Some(r#"{"cursor":"C1"}"#)).0, vec!["Sql:C1"], "OpenSearch closes a cursor like Elasticsearch");
    assert_eq!(uses("GET", "/_search/scroll/A,B", None).0, vec!["Scroll:A,B"], "a scroll continues one id");
    assert_eq!(uses("DELETE", "/_pit", Some(r#"{"id":"P1"}"#)).0, vec!["Pit:P1"]);
    assert_eq!(uses("POST", "/_search", Some(r#"{"pit":{"id":"P2","keep_alive":"1m"}}"#)).0, vec!["Pit:P2"]);
    assert_eq!(uses("GET", "/_async_search/AS1", None).0, vec!["AsyncSearch:AS1"]);
    assert_eq!(uses("GET", "/_async_search/status/AS2", None).0, vec!["AsyncSearch:AS2"]);
    assert_eq!(uses("GET", "/_query/async/Q1", None).0, vec!["Esql:Q1"]);
    assert_eq!(uses("GET", "/_eql/search/E1", None).0, vec!["Eql:E1"]);
    assert_eq!(uses("GET", "/_sql/async/S9", None).0, vec!["Sql:S9"]);
    assert_eq!(uses("POST", "/_sql/close", Some(r#"{"cursor":"C1"}"#)).0, vec!["Sql:C1"]);
    assert_eq!(uses("GET", "/logs/_search?scroll=1m", None).1.as_deref(), Some("Scroll"));
    assert_eq!(uses("POST", "/logs/_pit?keep_alive=1m", None).1.as_deref(), Some("Pit"));
    assert_eq!(uses("POST", "/logs/_async_search", None).1.as_deref(), Some("AsyncSearch"));
}

#[test]
fn encodings_and_content_types() {
    let head = |ct: Option<&'static str>, enc: Option<&'static str>| Head { method: "POST", target: "/logs/_search", content_type: ct, content_encoding: enc, has_body: true };
    for ok in [Some("application/json"), Some("application/json; charset=UTF-8"), Some("application/vnd.elasticsearch+json; compatible-with=8"), None] {
        assert!(classify::classify(&head(ok, None), NOW).is_ok(), "{ok:?}");
    }
    for bad in ["application/yaml", "application/cbor", "application/smile", "application/x-www-form-urlencoded"] {
        let r = classify::classify(&head(Some(bad), None), NOW).unwrap_err();
        assert_eq!(r.status, 400, "{bad}");
    }
    assert!(classify::classify(&head(None, Some("br")), NOW).is_err());
    assert!(classify::classify(&head(None, Some("gzip")), NOW).is_ok());
    // A body that carries no targets is not inspected, whatever its type.
    let doc = Head { method: "PUT", target: "/logs/_doc/1", content_type: Some("application/cbor"), content_encoding: Some("br"), has_body: true };
    assert!(classify::classify(&doc, NOW).is_ok());
}

/// APIs whose bodies name indices still need the cluster privilege Elasticsearch asks for.
#[test]
fn feature_apis_naming_indices_keep_their_cluster_privilege() {
    for (method, target, body, want) in [
        ("PUT", "/_enrich/policy/p", r#"{"match":{"indices":"users","match_field":"a","enrich_fields":["b"]}}"#, "manage_enrich"),
        ("PUT", "/_ml/datafeeds/df", r#"{"indices":["logs"],"job_id":"j"}"#, "manage_ml"),
        ("POST", "/_snapshot/r/s/_restore", r#"{"indices":"logs"}"#, "manage"),
    ] {
        let head = Head { method, target, content_type: Some("application/json"), content_encoding: None, has_body: true };
        let mut c = classify::classify(&head, NOW).unwrap();
        classify::inspect_body(&mut c, body.as_bytes(), NOW).unwrap();
        assert_eq!(c.cluster.map(|p| p.as_str()), Some(want), "{method} {target}");
    }
}
