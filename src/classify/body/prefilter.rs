//! Whether a JSON body can name an index at all. Every target `inspect_json` finds sits under
//! one of the route's field roots or behind a key spelled with `index` (`index`, `_index`,
//! `target_index`, `indexed_shape`), `indices` (`indices_boost`) or `pit`; a body that holds
//! none of these byte strings, and no `\u` escape (which could spell one), names no index.
//! One multi-pattern search per route's pattern set (all built together, on first use) looks
//! for the names in a single pass: any occurrence of any pattern is a match. The escape is
//! looked for on its own (each backslash, then the byte after it): a two-byte pattern among
//! the names would make the multi-pattern search stop at every `in` of the body, where three
//! bytes (`ind`, `pit`, `knn`) let it skip ahead.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::field_root;
use crate::classify::routes::FieldDef;
use crate::classify::routes_gen::ROUTES;

/// A route's field list (by address: the generated table's slices are static) and whether the
/// route reads the query DSL.
type Key = (usize, usize, bool);

fn key(fields: &'static [FieldDef], dsl: bool) -> Key {
    (fields.as_ptr() as usize, fields.len(), dsl)
}

/// Routes share few distinct pattern sets: one searcher per set, found by route.
static SEARCHERS: LazyLock<(HashMap<Key, usize>, Vec<AhoCorasick>)> = LazyLock::new(|| {
    let (mut by_route, mut by_set, mut all) = (HashMap::new(), HashMap::new(), Vec::new());
    for r in ROUTES {
        for dsl in [false, true] {
            let set = name_patterns(r.fields, dsl);
            let i = match by_set.get(&set) {
                Some(i) => *i,
                None => {
                    let Some(ac) = searcher(&set) else { continue };
                    all.push(ac);
                    by_set.insert(set, all.len() - 1);
                    all.len() - 1
                }
            };
            by_route.insert(key(r.fields, dsl), i);
        }
    }
    (by_route, all)
});

pub(super) fn may_name_targets(body: &[u8], fields: &'static [FieldDef], dsl: bool) -> bool {
    // Backslashes are rare in bodies: finding each is cheaper than a two-byte substring search.
    if memchr::memchr_iter(b'\\', body).any(|i| body.get(i + 1) == Some(&b'u')) {
        return true;
    }
    match SEARCHERS.0.get(&key(fields, dsl)) {
        Some(i) => SEARCHERS.1[*i].is_match(body),
        // Not a route's field list (tests), or a set whose searcher could not be built:
        // built for this call, and without one every body is inspected in full.
        None => searcher(&name_patterns(fields, dsl)).is_none_or(|ac| ac.is_match(body)),
    }
}

/// The names whose presence means a body may name an index (beside the escape).
fn name_patterns(fields: &'static [FieldDef], dsl: bool) -> Vec<&'static str> {
    let mut p: Vec<&'static str> = fields.iter().filter_map(|f| field_root(f.path)).collect();
    if dsl {
        p.extend(["index", "indices", "pit"]);
    }
    // Several fields share a root (`retriever.…`): a pattern given twice makes the search slower.
    p.sort_unstable();
    p.dedup();
    p
}

fn searcher(patterns: &[&str]) -> Option<AhoCorasick> {
    AhoCorasick::builder().match_kind(MatchKind::LeftmostFirst).build(patterns).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefilter as plain substring searches, one per pattern: the definition the single
    /// multi-pattern search must agree with.
    fn may_name_reference(body: &[u8], fields: &'static [FieldDef], dsl: bool) -> bool {
        let has = |p: &str| memchr::memmem::find(body, p.as_bytes()).is_some();
        has("\\u") || fields.iter().filter_map(|f| field_root(f.path)).any(has) || (dsl && ["index", "indices", "pit"].into_iter().any(has))
    }

    #[test]
    fn one_search_agrees_with_a_search_per_pattern_on_every_route() {
        let mut pieces: Vec<String> = vec!["\\u".into(), "\\".into(), "u".into(), "ind".into(), "ex".into(), "ices".into(), "pi".into(), "t".into(), "pit".into(), "index".into(), "indices".into()];
        for r in ROUTES {
            pieces.extend(r.fields.iter().filter_map(|f| field_root(f.path)).map(str::to_string));
        }
        let mut bodies: Vec<String> = vec![String::new(), r#"{"query":{"match_all":{}}}"#.into()];
        for p in &pieces {
            bodies.push(format!(r#"{{"query":{{"x":"{p}"}}}}"#));
            // Near misses: the pattern cut short, or with its first byte changed.
            bodies.push(format!(r#"{{"{}":1}}"#, &p[..p.len() - 1]));
            bodies.push(format!(r#"{{"X{}":1}}"#, &p[1..]));
        }
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES.iter().filter(|r| seen.insert(r.fields.iter().map(|f| f.path).collect::<Vec<_>>())) {
            for dsl in [false, true] {
                for b in &bodies {
                    assert_eq!(may_name_targets(b.as_bytes(), r.fields, dsl), may_name_reference(b.as_bytes(), r.fields, dsl), "{} {} dsl={dsl}: {b}", r.method, r.path);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn one_search_agrees_on_random_bodies(parts in proptest::collection::vec(proptest::sample::select(vec![
            "index", "ind", "ices", "pit", "p", "\\", "u", "\\u", "runtime_mappings", "runtime", "knn", "retriever", "indices_boost",
            "source", "dest", "docs", "\"", "{", ":", "x", "_", "-"]), 0..24), route in 0..ROUTES.len(), dsl in proptest::bool::ANY) {
            let body = parts.concat();
            let r = &ROUTES[route];
            proptest::prop_assert_eq!(may_name_targets(body.as_bytes(), r.fields, dsl), may_name_reference(body.as_bytes(), r.fields, dsl), "{}", body);
        }
    }
}
