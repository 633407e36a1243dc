//! The route table (generated from both specifications) and a router that matches a path the
//! way Elasticsearch's PathTrie does: literal segments before parameters at each level, with
//! backtracking, and the method chosen at the leaf. Literal segments compare against the raw
//! (still percent-encoded) segment, as the server does; parameters are decoded afterwards.

use std::sync::LazyLock;

use crate::privilege::{ClusterPriv, IndexPriv};

pub const ES: u8 = 1;
pub const OS: u8 = 2;

#[derive(Debug)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: &'static str,
    pub privs: &'static [IndexPriv],
}

#[derive(Debug)]
pub struct FieldDef {
    pub path: &'static str,
    pub privs: &'static [IndexPriv],
}

/// How a route's body is inspected for targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// The body carries no targets: it streams untouched.
    None,
    /// JSON: the route's field paths, plus the query DSL walk when `dsl`.
    Json,
    Bulk,
    Msearch,
    MsearchTemplate,
    Template,
    Aliases,
    Sql,
    Esql,
    Ppl,
    /// The body (or path) carries an opaque continuation id.
    Continuation,
}

/// Opaque ids that continue earlier work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContKind {
    Scroll,
    Pit,
    AsyncSearch,
    Eql,
    Esql,
    Sql,
}

#[derive(Debug)]
pub struct RouteDef {
    pub method: &'static str,
    pub path: &'static str,
    pub api: &'static str,
    pub products: u8,
    pub cluster: Option<ClusterPriv>,
    /// Privileges for targets named by index-like query parameters.
    pub index: &'static [IndexPriv],
    pub params: &'static [ParamDef],
    pub query: &'static [&'static str],
    pub body: BodyKind,
    pub fields: &'static [FieldDef],
    pub dsl: bool,
    pub uses: Option<(ContKind, &'static str)>,
    pub creates: Option<ContKind>,
    /// Without an index in the path or query, the request acts on every index (`GET /_search`).
    pub implicit_all: bool,
}

impl RouteDef {
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The path parameter holding the route's index expression, the one a broad read is
    /// narrowed in: `{index}`, or else a list of indices or data streams under another name
    /// (`/_resolve/index/{name}`, `/_data_stream/{name}`).
    pub fn list_param(&self) -> Option<&'static str> {
        let index = self.params.iter().find(|p| p.name == "index");
        index.or_else(|| self.params.iter().find(|p| matches!(p.kind, "indices" | "data_streams"))).map(|p| p.name)
    }

    /// Whether a target from `source` sits in the route's narrowable path parameter.
    pub fn is_list_source(&self, source: &str) -> bool {
        let Some(name) = source.strip_prefix("path:{").and_then(|s| s.strip_suffix('}')) else { return false };
        self.list_param() == Some(name)
    }
}

#[derive(Default)]
struct Node {
    /// Sorted by segment, searched by bisection (cheaper than hashing each segment).
    literal: Vec<(&'static str, Node)>,
    param: Option<Box<Node>>,
    /// Route indices ending here, by method.
    methods: Vec<(&'static str, usize)>,
}

pub struct Router {
    root: Node,
}

/// What routing found.
pub enum Found {
    Route(&'static RouteDef),
    /// The path exists but not for this method.
    WrongMethod(Vec<&'static str>),
    None,
}

pub static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::new(super::routes_gen::ROUTES));

impl Router {
    fn new(routes: &'static [RouteDef]) -> Self {
        let mut root = Node::default();
        for (i, r) in routes.iter().enumerate() {
            let mut node = &mut root;
            for seg in template_segments(r.path) {
                node = if seg.starts_with('{') {
                    node.param.get_or_insert_with(Box::default)
                } else {
                    let at = match node.literal.binary_search_by(|(k, _)| (*k).cmp(seg)) {
                        Ok(at) => at,
                        Err(at) => {
                            node.literal.insert(at, (seg, Node::default()));
                            at
                        }
                    };
                    &mut node.literal[at].1
                };
            }
            node.methods.push((r.method, i));
        }
        Self { root }
    }

    /// Finds the route for raw path segments (no leading empty segment) and a method. HEAD
    /// falls back to GET where no HEAD route exists, as the server does.
    pub fn find(&self, segs: &[&str], method: &str) -> Found {
        let mut allowed = Vec::new();
        if let Some(i) = walk(&self.root, segs, method, &mut allowed) {
            return Found::Route(&super::routes_gen::ROUTES[i]);
        }
        if method == "HEAD" {
            if let Some(i) = walk(&self.root, segs, "GET", &mut Vec::new()) {
                return Found::Route(&super::routes_gen::ROUTES[i]);
            }
        }
        if allowed.is_empty() { Found::None } else { Found::WrongMethod(allowed) }
    }
}

fn walk(node: &Node, segs: &[&str], method: &str, allowed: &mut Vec<&'static str>) -> Option<usize> {
    let Some((first, rest)) = segs.split_first() else {
        if let Some((_, i)) = node.methods.iter().find(|(m, _)| *m == method) {
            return Some(*i);
        }
        allowed.extend(node.methods.iter().map(|(m, _)| *m));
        return None;
    };
    if let Ok(at) = node.literal.binary_search_by(|(k, _)| (*k).cmp(first)) {
        if let Some(i) = walk(&node.literal[at].1, rest, method, allowed) {
            return Some(i);
        }
    }
    node.param.as_ref().and_then(|child| walk(child, rest, method, allowed))
}

pub fn template_segments(path: &'static str) -> impl Iterator<Item = &'static str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(path: &str, method: &str) -> Option<&'static str> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match ROUTER.find(&segs, method) {
            Found::Route(r) => Some(r.api),
            _ => None,
        }
    }

    #[test]
    fn literal_first_with_backtracking() {
        assert_eq!(api("/logs/_search", "GET"), Some("search"));
        assert_eq!(api("/logs/_doc/1", "GET"), Some("get"));
        assert_eq!(api("/logs/_doc/1", "PUT"), Some("index"));
        assert_eq!(api("/logs/_doc/1", "DELETE"), Some("delete"));
        assert_eq!(api("/logs", "PUT"), Some("indices.create"));
        assert_eq!(api("/logs", "DELETE"), Some("indices.delete"));
        assert_eq!(api("/_ingest/pipeline/_simulate", "POST"), Some("ingest.simulate"));
        assert_eq!(api("/_ingest/logs/_simulate", "POST"), Some("simulate.ingest"));
        assert_eq!(api("/_nodes/stats", "GET"), Some("nodes.stats"));
        assert_eq!(api("/_inference/completion/my-model", "PUT"), Some("inference.put"));
        assert_eq!(api("/", "HEAD"), Some("ping"));
        assert_eq!(api("/logs/_search", "HEAD"), Some("search"));
        assert_eq!(api("/_plugins/_ism/add/logs", "POST"), Some("ism.add_policy"));
        assert_eq!(api("/_opendistro/_ism/add/logs", "POST"), Some("ism.add_policy"));
        assert_eq!(api("/_nope", "GET"), Some("indices.get")); // then refused by the name check
        assert_eq!(api("/a/b/c/d/e/f/g", "GET"), None);
        assert!(matches!(ROUTER.find(&["_search"], "PATCH"), Found::WrongMethod(_)));
    }
}
