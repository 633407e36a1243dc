//! Index names in query text: SQL (`FROM a`, `JOIN b`, `DESCRIBE c`, `SHOW TABLES`),
//! ES|QL (`FROM a, b`, `TS`, `METRICS`, `LOOKUP JOIN c`) and PPL (`source=a, b`). A tokenizer
//! that knows strings and comments finds them; a construct that could name an index in a way
//! this module does not follow (ENRICH policies, PPL sub-searches) is refused.

use crate::privilege::IndexPriv;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub expr: String,
    pub privilege: IndexPriv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// A quoted identifier ("…" or `…`), content unescaped.
    Quoted(String),
    /// A string literal ('…', or "…" in ES|QL/PPL).
    Str,
    Punct(char),
}

fn read(found: &mut Vec<Found>, expr: String) {
    found.push(Found { expr, privilege: IndexPriv::Read });
}

/// Characters that may appear in an unquoted index pattern (date math and remote prefixes included).
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | ':' | '<' | '>' | '{' | '}' | '/' | '+' | '@')
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let end = (i + 2..chars.len().saturating_sub(1)).find(|&j| chars[j] == '*' && chars[j + 1] == '/');
                i = end.ok_or("unterminated comment")? + 2;
            }
            '\'' | '"' | '`' => {
                let triple = c == '"' && chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"');
                let (content, next) = if triple { quoted_triple(&chars, i + 3)? } else { quoted(&chars, i + 1, c)? };
                // '…' is a string; "…" and `…` quote identifiers (index patterns in FROM).
                out.push(if c == '\'' { Tok::Str } else { Tok::Quoted(content) });
                i = next;
            }
            c if name_char(c) => {
                let start = i;
                while i < chars.len() && name_char(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            c => {
                out.push(Tok::Punct(c));
                i += 1;
            }
        }
    }
    Ok(out)
}

fn quoted(chars: &[char], mut i: usize, q: char) -> Result<(String, usize), String> {
    let mut s = String::new();
    while i < chars.len() {
        if chars[i] == q {
            if chars.get(i + 1) == Some(&q) {
                s.push(q);
                i += 2;
                continue;
            }
            return Ok((s, i + 1));
        }
        if chars[i] == '\\' && q != '`' {
            if let Some(&n) = chars.get(i + 1) {
                s.push(n);
                i += 2;
                continue;
            }
        }
        s.push(chars[i]);
        i += 1;
    }
    Err("unterminated quote".into())
}

fn quoted_triple(chars: &[char], i: usize) -> Result<(String, usize), String> {
    let end = (i..chars.len().saturating_sub(2)).find(|&j| chars[j] == '"' && chars[j + 1] == '"' && chars[j + 2] == '"');
    let end = end.ok_or("unterminated triple quote")?;
    Ok((chars[i..end].iter().collect(), end + 3))
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn name_of(t: Option<&Tok>) -> Option<String> {
    match t {
        Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Some(w.clone()),
        _ => None,
    }
}

/// Elasticsearch SQL and OpenSearch SQL.
pub fn sql(q: &str) -> Result<Vec<Found>, String> {
    let toks = tokenize(q)?;
    let mut found = Vec::new();
    let first = toks.first();
    if is_kw(first, "SYS") {
        return Err("SYS commands are not supported through Sluice".into());
    }
    if is_kw(first, "SHOW") {
        if is_kw(toks.get(1), "TABLES") {
            // Lists index names: metadata of everything unless a LIKE pattern narrows it.
            let pattern = if is_kw(toks.get(2), "LIKE") { None } else { name_of(toks.get(2)) };
            found.push(Found { expr: pattern.unwrap_or_else(|| "*".into()), privilege: IndexPriv::ViewIndexMetadata });
            return Ok(found);
        }
        if is_kw(toks.get(1), "COLUMNS") && (is_kw(toks.get(2), "IN") || is_kw(toks.get(2), "FROM")) {
            let n = name_of(toks.get(3)).ok_or("SHOW COLUMNS needs a table")?;
            found.push(Found { expr: n, privilege: IndexPriv::ViewIndexMetadata });
            return Ok(found);
        }
        if is_kw(toks.get(1), "FUNCTIONS") || is_kw(toks.get(1), "CATALOGS") {
            return Ok(found);
        }
        return Err("unsupported SHOW command".into());
    }
    if is_kw(first, "DESCRIBE") || is_kw(first, "DESC") {
        let n = name_of(toks.get(1)).ok_or("DESCRIBE needs a table")?;
        found.push(Found { expr: n, privilege: IndexPriv::ViewIndexMetadata });
        return Ok(found);
    }
    let mut i = 0;
    while i < toks.len() {
        if is_kw(toks.get(i), "FROM") || is_kw(toks.get(i), "JOIN") {
            match toks.get(i + 1) {
                Some(Tok::Punct('(')) => {} // a sub-query: its own FROM is found as we go on
                t => {
                    let n = name_of(t).ok_or("FROM/JOIN must name a table")?;
                    read(&mut found, n);
                    // `FROM a, b` (OpenSearch SQL): more tables after commas.
                    let mut j = i + 2;
                    while matches!(toks.get(j), Some(Tok::Punct(','))) {
                        if let Some(n) = name_of(toks.get(j + 1)) {
                            if !is_kw(toks.get(j + 1), "SELECT") {
                                read(&mut found, n);
                            }
                        }
                        j += 2;
                    }
                }
            }
        }
        i += 1;
    }
    if found.is_empty() && !is_kw(first, "SELECT") {
        return Err("not a query Sluice understands".into());
    }
    Ok(found)
}

/// ES|QL.
pub fn esql(q: &str) -> Result<Vec<Found>, String> {
    let toks = tokenize(q)?;
    let mut found = Vec::new();
    let commands = toks.split(|t| *t == Tok::Punct('|'));
    for (n, cmd) in commands.enumerate() {
        let head = cmd.first();
        if n == 0 {
            if is_kw(head, "FROM") || is_kw(head, "TS") || is_kw(head, "METRICS") {
                sources(&cmd[1..], &mut found)?;
            } else if is_kw(head, "ROW") || is_kw(head, "SHOW") {
            } else {
                return Err("an ES|QL query must start with FROM, TS, METRICS, ROW or SHOW".into());
            }
        } else if is_kw(head, "LOOKUP") {
            let at = if is_kw(cmd.get(1), "JOIN") { 2 } else { 1 };
            let n = name_of(cmd.get(at)).ok_or("LOOKUP JOIN must name an index")?;
            read(&mut found, n);
        } else if is_kw(head, "ENRICH") {
            return Err("ENRICH reads an enrich policy's index, which Sluice cannot resolve".into());
        } else if is_kw(head, "FROM") || is_kw(head, "FORK") && cmd.iter().any(|t| is_kw(Some(t), "FROM")) {
            return Err("sub-queries with FROM are not supported through Sluice".into());
        }
    }
    Ok(found)
}

/// `FROM a*, -a-secret, remote:c METADATA _id` -> `a*,-a-secret,remote:c`: one index
/// expression, so that an exclusion applies to the patterns before it, as in Elasticsearch.
fn sources(toks: &[Tok], found: &mut Vec<Found>) -> Result<(), String> {
    let mut expect_name = true;
    let mut names: Vec<String> = Vec::new();
    for t in toks {
        match t {
            Tok::Word(w) if w.eq_ignore_ascii_case("METADATA") && !expect_name => break,
            Tok::Word(_) | Tok::Quoted(_) if expect_name => {
                names.push(name_of(Some(t)).unwrap_or_default());
                expect_name = false;
            }
            Tok::Punct(',') if !expect_name => expect_name = true,
            Tok::Punct('(') => return Err("sub-queries are not supported through Sluice".into()),
            _ if expect_name => return Err("FROM must name indices".into()),
            _ => return Err("unexpected text after the FROM sources".into()),
        }
    }
    if names.is_empty() {
        return Err("FROM must name indices".into());
    }
    read(found, names.join(","));
    Ok(())
}

/// OpenSearch PPL.
pub fn ppl(q: &str) -> Result<Vec<Found>, String> {
    let toks = tokenize(q)?;
    let mut found = Vec::new();
    if toks.iter().any(|t| matches!(t, Tok::Punct('[')) || is_kw(Some(t), "join") || is_kw(Some(t), "lookup") || is_kw(Some(t), "append")) {
        return Err("PPL joins, lookups and sub-searches are not supported through Sluice".into());
    }
    let first_cmd: Vec<&Tok> = toks.iter().take_while(|t| **t != Tok::Punct('|')).collect();
    if is_kw(first_cmd.first().copied(), "describe") {
        let n = name_of(first_cmd.get(1).copied()).ok_or("describe needs an index")?;
        found.push(Found { expr: n, privilege: IndexPriv::ViewIndexMetadata });
        return Ok(found);
    }
    if is_kw(first_cmd.first().copied(), "show") {
        return Ok(found);
    }
    let start = usize::from(is_kw(first_cmd.first().copied(), "search"));
    let (Some(kw), Some(Tok::Punct('='))) = (first_cmd.get(start), first_cmd.get(start + 1)) else {
        return Err("a PPL query must start with source=".into());
    };
    if !(is_kw(Some(kw), "source") || is_kw(Some(kw), "index")) {
        return Err("a PPL query must start with source=".into());
    }
    let mut expect_name = true;
    for t in &first_cmd[start + 2..] {
        match t {
            Tok::Word(_) | Tok::Quoted(_) if expect_name => {
                read(&mut found, name_of(Some(t)).unwrap_or_default());
                expect_name = false;
            }
            Tok::Punct(',') => expect_name = true,
            _ => break, // search terms after the sources
        }
    }
    if found.is_empty() {
        return Err("source= must name indices".into());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exprs(r: Result<Vec<Found>, String>) -> Vec<String> {
        r.unwrap().into_iter().map(|f| f.expr).collect()
    }

    #[test]
    fn sql_tables() {
        let table: &[(&str, &[&str])] = &[
            ("SELECT * FROM logs", &["logs"]),
            ("select a from \"logs-*\" where b = 'FROM secret'", &["logs-*"]),
            ("SELECT * FROM logs-2024 -- FROM hidden\n LIMIT 1", &["logs-2024"]),
            ("SELECT * FROM remote:logs", &["remote:logs"]),
            ("SELECT * FROM (SELECT * FROM inner_idx) x", &["inner_idx"]),
            ("SELECT * FROM a JOIN b ON a.x = b.x", &["a", "b"]),
            ("SELECT * FROM a, b", &["a", "b"]),
            ("SELECT * FROM `weird-idx`", &["weird-idx"]),
            ("DESCRIBE logs", &["logs"]),
            ("SHOW COLUMNS IN logs", &["logs"]),
            ("SHOW TABLES", &["*"]),
            ("SELECT 1", &[]),
            ("SELECT * /* FROM x */ FROM y", &["y"]),
        ];
        for (q, want) in table {
            assert_eq!(exprs(sql(q)), want.to_vec(), "{q}");
        }
        for bad in ["SYS TABLES", "SELECT * FROM", "DROP TABLE x", "SELECT 'unterminated FROM x"] {
            assert!(sql(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn esql_sources() {
        let table: &[(&str, &[&str])] = &[
            ("FROM logs-*", &["logs-*"]),
            ("from logs-a, logs-b METADATA _id | LIMIT 10", &["logs-a,logs-b"]),
            ("FROM remote:logs,*:metrics | WHERE message == \"FROM secret\"", &["remote:logs,*:metrics"]),
            ("FROM logs-*, -logs-secret | LIMIT 1", &["logs-*,-logs-secret"]),
            ("FROM \"logs-*\" | LOOKUP JOIN users ON user.id", &["logs-*", "users"]),
            ("FROM <logs-{now/d}> | STATS count()", &["<logs-{now/d}>"]),
            ("TS metrics-* | STATS max(cpu)", &["metrics-*"]),
            ("ROW a = 1", &[]),
            ("FROM a // FROM b\n| LIMIT 1", &["a"]),
        ];
        for (q, want) in table {
            assert_eq!(exprs(esql(q)), want.to_vec(), "{q}");
        }
        for bad in ["FROM a | ENRICH policy", "EVAL x = 1", "FROM (FROM a)", "FROM", "FROM a b"] {
            assert!(esql(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ppl_sources() {
        assert_eq!(exprs(ppl("source=logs | where a = 1")), vec!["logs"]);
        assert_eq!(exprs(ppl("search source=logs-*, metrics error")), vec!["logs-*", "metrics"]);
        assert_eq!(exprs(ppl("describe logs")), vec!["logs"]);
        for bad in ["where a=1", "source=a | join left=l right=r b", "source=a | lookup b id", "source="] {
            assert!(ppl(bad).is_err(), "{bad}");
        }
    }
}
