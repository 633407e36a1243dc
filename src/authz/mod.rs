//! Authorization: time-bound grants pushed by a policy engine, compiled into an immutable
//! snapshot and decided per request from memory. Pure parts (`table`, `snapshot`, `decide`)
//! are table-tested; `engine` holds the live state (snapshot, decision cache, continuation
//! bindings) shared by the pipeline and the admin API.

pub mod bindings;
pub mod decide;
pub mod engine;
pub mod explain;
pub mod has_privileges;
pub mod lifecycle;
pub mod narrow;
pub mod seal;
pub mod snapshot;
pub mod table;

pub use decide::Decision;
pub use engine::{Authorizer, Mode};

/// Restricted system indices: reachable only through grants with `allow_restricted_indices`.
pub const RESTRICTED: &[&str] = &[
    ".security*",
    ".async-search*",
    ".fleet-secrets*",
    ".secrets-inference*",
    ".ml-inference-secrets*",
];

/// Whether a concrete name is a restricted index.
pub fn is_restricted(name: &str) -> bool {
    RESTRICTED.iter().any(|r| glob_match(r, name))
}

/// Whether a pattern may match a restricted index (a sound over-approximation: the literal
/// prefixes before the first `*` are compared).
pub fn may_touch_restricted(pattern: &str) -> bool {
    let lit = |p: &str| p.split('*').next().unwrap_or("").to_string();
    let mine = lit(pattern);
    let wild = pattern.contains('*');
    RESTRICTED.iter().any(|r| {
        let theirs = lit(r);
        if wild {
            theirs.starts_with(&mine) || mine.starts_with(&theirs)
        } else {
            glob_match(r, pattern)
        }
    })
}

/// `*`-only glob matching: `pattern` against `text` (a `*` in `text` is a literal character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_restricted() {
        for (p, t, want) in [
            ("logs-*", "logs-app", true),
            ("logs-*", "logs-app-*", true),
            ("logs-app-*", "logs-*", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*-app", "logs-app", true),
            ("logs", "logs", true),
            ("logs", "logs2", false),
        ] {
            assert_eq!(glob_match(p, t), want, "{p} {t}");
        }
        assert!(is_restricted(".security-7"));
        assert!(!is_restricted(".kibana"));
        for (p, want) in [("*", true), (".s*", true), (".security-7*", true), ("logs-*", false), (".kib*", false), (".security", true)] {
            assert_eq!(may_touch_restricted(p), want, "{p}");
        }
    }
}
