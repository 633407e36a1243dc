//! Walks every row of both specification tables (tests/data, copied from the official
//! Elasticsearch and OpenSearch specifications): each (method, path with sample values)
//! classifies to its API, with privileges at least as strong as the documented ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::collections::BTreeMap;

use serde_json::Value;
use sluice::classify::{self, Head};
use sluice::privilege::{ClusterPriv, IndexPriv};

const NOW: i64 = 1_700_000_000_000;

fn rows(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("tests/data/{file}")).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn sample_path(row: &Value) -> String {
    let index_params: Vec<&str> = row["index_params"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut out = String::new();
    for seg in row["path"].as_str().unwrap().split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(p) if index_params.contains(&p) => out.push_str("logs-a"),
            Some(_) => out.push_str("x1"),
            None => out.push_str(seg),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn expected_api(row: &Value) -> String {
    let api = row["api"].as_str().unwrap();
    if api.starts_with("inference.put") && row["method"] == "PUT" {
        return "inference.put".into(); // one server route behind 27 client-level names
    }
    api.to_string()
}

fn list(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

#[test]
fn every_specification_row_classifies_with_at_least_the_documented_privileges() {
    let mut failures = Vec::new();
    let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut checked = 0;
    for file in ["elasticsearch-endpoints.jsonl", "opensearch-endpoints.jsonl"] {
        for row in rows(file) {
            checked += 1;
            let method = row["method"].as_str().unwrap();
            let path = sample_path(&row);
            let head = Head { method, target: &path, ..Default::default() };
            let c = match classify::classify(&head, NOW) {
                Ok(c) => c,
                // Changing "one's own" password would change the service account's at the cluster.
                Err(e) if e.reason.contains("Sluice's service account password") => {
                    reasons.entry("refused: would change Sluice's service account password").or_default().push(format!("{method} {path}"));
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{file}: {method} {path}: refused: {e}"));
                    continue;
                }
            };
            let want = expected_api(&row);
            if c.api != want {
                failures.push(format!("{file}: {method} {path}: classified as {} instead of {want}", c.api));
                continue;
            }
            let id = format!("{} {method} {}", c.api, row["path"].as_str().unwrap());
            // Cluster privileges: ours must imply one of the documented ones.
            let doc_c = list(&row["cluster_privileges"]);
            if !doc_c.is_empty() {
                let ok = c.cluster.is_some_and(|ours| doc_c.iter().any(|d| ClusterPriv::parse(d).is_some_and(|d| ours.implies(d))));
                if !ok {
                    failures.push(format!("{id}: cluster privilege {:?} is weaker than documented {doc_c:?}", c.cluster));
                }
            }
            // Index privileges: some target must need a privilege implying a documented one.
            let doc_i = list(&row["index_privileges"]);
            if doc_i.is_empty() {
                continue;
            }
            let documented: Vec<IndexPriv> = doc_i.iter().filter_map(|d| IndexPriv::parse(d)).collect();
            assert_eq!(documented.len(), doc_i.len(), "{id}: unknown documented privilege in {doc_i:?}");
            let ours: Vec<IndexPriv> = c.targets.iter().flat_map(|t| t.privileges.iter().copied()).collect();
            if ours.iter().any(|o| documented.iter().any(|d| o.implies(*d))) {
                continue;
            }
            if !c.targets.is_empty() {
                failures.push(format!("{id}: index privileges {ours:?} are weaker than documented {doc_i:?}"));
            } else if c.route.uses.is_some() {
                reasons.entry("continuation id: bound to the principal that created it").or_default().push(id);
            } else if !c.route.fields.is_empty() || c.route.body != classify::routes::BodyKind::None {
                reasons.entry("targets are carried in the body (covered by the body tests)").or_default().push(id);
            } else if c.cluster.is_some() {
                reasons.entry("the documented index privilege applies to indices stored in the resource's configuration, not named in the request; the cluster privilege guards it").or_default().push(id);
            } else {
                failures.push(format!("{id}: documents index privileges {doc_i:?} but Sluice requires nothing"));
            }
        }
    }
    for (reason, ids) in &reasons {
        println!("{} rows: {reason}", ids.len());
        for id in ids {
            println!("    {id}");
        }
    }
    println!("{checked} rows checked");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, 885 + 823);
}
