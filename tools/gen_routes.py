#!/usr/bin/env python3
"""Generates src/classify/routes_gen.rs from the specification tables in tests/data/.

    python3 tools/gen_routes.py            # rewrite the generated file
    python3 tools/gen_routes.py --check    # exit 1 if the committed file is stale (CI)

Every (method, path) row of both products becomes a route with: the API name, the cluster
privilege it needs, the index privilege each index-like path parameter needs, the index-like
query parameters, and how its body is inspected. Privileges start from what Elasticsearch
documents (a floor: Sluice is never weaker) and otherwise follow the explicit rules below.
"""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "src", "classify", "routes_gen.rs")

def load(name):
    with open(os.path.join(ROOT, "tests", "data", name)) as f:
        return [json.loads(l) for l in f if l.strip()]

# ---------------------------------------------------------------- privilege rules
# Any-of lists Elasticsearch documents: we require the first one that appears here.
INDEX_PREF = ["read", "view_index_metadata", "monitor", "maintenance", "index", "create", "create_doc", "delete",
              "write", "create_index", "delete_index", "manage_ilm", "manage_follow_index", "manage",
              "read_view_metadata", "create_view", "delete_view"]
CLUSTER_PREF = ["monitor", "read_ilm", "read_slm", "read_pipeline", "read_ccr", "read_security", "manage_own_api_key",
                "manage_index_templates", "manage_rollup", "manage_project_routing", "read_project_routing"]

# Documented lists that are all-of (one privilege per target), and other explicit decisions.
# api -> dict(cluster=..., index=[...] for path targets, params={name: [...]}, fields={path: [...]})
OVERRIDES = {
    "ping": dict(cluster=None),
    # Enrollment creates credentials (a Kibana service token, node certificates) for the
    # cluster: never by a read privilege.
    "security.enroll_kibana": dict(cluster="manage_security"),
    "security.enroll_node": dict(cluster="manage_security"),
    "bulk": dict(index=[]),              # path index is only the default of each item
    "monitoring.bulk": dict(cluster="monitor", index=[]),
    "bulk_stream": dict(index=[]),
    "mget": dict(index=["read"]),
    "mtermvectors": dict(index=["read"]),
    "msearch": dict(index=["read"]),
    "msearch_template": dict(index=["read"]),
    "fleet.msearch": dict(index=["read"]),
    "reindex": dict(fields={"source.index": ["read"], "source.runtime_mappings.target_index": ["read"], "dest.index": ["write"]}),
    "delete_by_query": dict(index=["read", "delete"]),
    "update_by_query": dict(index=["read", "write"]),
    "update": dict(index=["write"]),
    "index": dict(index=["index"]),
    "create": dict(index=["create"]),
    "delete": dict(index=["delete"]),
    "exists": dict(index=["read"]),
    "exists_source": dict(index=["read"]),
    "get_source": dict(index=["read"]),
    "explain": dict(index=["read"]),
    "termvectors": dict(index=["read"]),
    "knn_search": dict(index=["read"]),
    "terms_enum": dict(index=["read"]),
    "search_mvt": dict(index=["read"]),
    "search_shards": dict(index=["view_index_metadata"]),
    "graph.explore": dict(index=["read"]),
    "eql.search": dict(index=["read"]),
    "async_search.submit": dict(index=["read"]),
    "fleet.search": dict(index=["read"]),
    "rollup.rollup_search": dict(index=["read"]),
    "indices.validate_query": dict(index=["read"]),
    "rank_eval": dict(index=["read"]),
    "open_point_in_time": dict(index=["read"]),
    "create_pit": dict(index=["read"]),
    "cluster.health": dict(index=[]),    # index names only filter a cluster-level view
    "cluster.state": dict(index=[]),
    "cluster.allocation_explain": dict(cluster="monitor", index=[]),
    "indices.exists": dict(index=["view_index_metadata"]),
    "indices.exists_alias": dict(index=["view_index_metadata"]),
    "indices.put_alias": dict(index=["manage"], params={"name": ["manage"]}, fields={"index": ["manage"], "alias": ["manage"]}),
    "indices.delete_alias": dict(index=["manage"], params={"name": ["manage"]}),
    "indices.update_aliases": dict(index=["manage"]),
    "indices.add_block": dict(index=["manage"]),
    "indices.clone": dict(index=["manage"], params={"target": ["create_index", "manage"]}),
    "indices.shrink": dict(index=["manage"], params={"target": ["create_index", "manage"]}),
    "indices.split": dict(index=["manage"], params={"target": ["create_index", "manage"]}),
    "indices.rollover": dict(index=["manage"], params={"new_index": ["create_index"]}),
    "indices.downsample": dict(index=["manage"], params={"target_index": ["create_index", "manage"]}),
    "indices.create_from": dict(params={"source": ["read", "view_index_metadata"], "dest": ["create_index", "manage"]}),
    "indices.create": dict(index=["create_index"]),
    "indices.create_data_stream": dict(index=["create_index"]),
    "indices.delete_data_stream": dict(index=["delete_index"]),
    "indices.promote_data_stream": dict(index=["manage_follow_index"]),
    "indices.migrate_to_data_stream": dict(index=["manage"]),
    "indices.modify_data_stream": dict(index=["manage"]),
    "indices.disk_usage": dict(index=["manage"]),
    "indices.analyze": dict(index=["index"], cluster_pathless="monitor"),
    "indices.clear_cache": dict(cluster_pathless="manage"),
    "fleet.global_checkpoints": dict(index=["monitor"]),
    "migration.deprecations": dict(cluster="manage", index=[]),
    "ccr.follow": dict(index=["create_index", "manage_follow_index"], cluster="manage_ccr"),
    "ccr.forget_follower": dict(index=["manage_leader_index"]),
    "ccr.pause_follow": dict(index=["manage_follow_index"]),
    "ccr.resume_follow": dict(index=["manage_follow_index"]),
    "ccr.follow_info": dict(index=["monitor"]),
    "ccr.follow_stats": dict(index=["monitor"]),
    "transform.put_transform": dict(fields={"source.index": ["read", "view_index_metadata"], "dest.index": ["create_index", "index"], "dest.aliases[].alias": ["manage"]}),
    "transform.update_transform": dict(fields={"source.index": ["read", "view_index_metadata"], "dest.index": ["index"], "dest.aliases[].alias": ["manage"]}),
    "transform.preview_transform": dict(fields={"source.index": ["read", "view_index_metadata"], "dest.index": ["view_index_metadata"], "dest.aliases[].alias": ["view_index_metadata"]}),
    # OpenSearch ML Commons trains and predicts on the documents of `input_index` (and its query).
    "ml.train": dict(fields={"input_index": ["read"]}, dsl=True),
    "ml.train_predict": dict(fields={"input_index": ["read"]}, dsl=True),
    "ml.predict": dict(fields={"input_index": ["read"]}, dsl=True),
    "ml.put_data_frame_analytics": dict(fields={"source.index": ["read"], "dest.index": ["create_index", "index"]}),
    "ml.explain_data_frame_analytics": dict(fields={"source.index": ["read"], "dest.index": ["view_index_metadata"]}),
    "snapshot.restore": dict(cluster="manage", fields={"indices": ["create_index", "manage"]}),
    "searchable_snapshots.mount": dict(fields={"index": ["manage"], "renamed_index": ["create_index", "manage"]}),
    "search_application.put": dict(fields={"indices": ["manage"]}),
    # A search application is searched through its backing alias, named like it (one name).
    "search_application.search": dict(cluster=None, index=["read"], extra_params=["name"]),
    "enrich.put_policy": dict(cluster="manage_enrich", fields={"match.indices": ["read"], "range.indices": ["read"], "geo_match.indices": ["read"]}),
    "scripts_painless_execute": dict(cluster=None, fields={"context_setup.index": ["read"]}),
    "clear_scroll": dict(cluster=None),
    "scroll": dict(index=[]),
    "info": dict(cluster="monitor"),
    "text_structure.find_field_structure": dict(index=["read"]),   # samples the index's documents
}

# APIs whose bodies name indices only to configure something that a cluster privilege gates
# (templates, roles, snapshots, policies, rules): their bodies are not inspected for targets.
CONFIGURES = {
    "cluster.put_component_template", "indices.put_index_template", "indices.put_template",
    "indices.simulate_index_template", "indices.simulate_template", "snapshot.create", "snapshot.clone",
    "cluster.reroute", "cluster.allocation_explain", "query_rules.put_rule", "query_rules.put_ruleset",
    "connector.post", "connector.put", "connector.update_index_name", "ccr.put_auto_follow_pattern",
    "ism.put_policies", "ism.put_policy", "sm.create_policy", "sm.update_policy", "security.create_role",
    "replication.create_replication_rule", "replication.delete_replication_rule", "ml.validate",
    "indices.put_mapping", "indices.put_data_stream_mappings", "indices.create_from", "ml.put_trained_model",
    "ml.update_model", "search_relevance.put_search_configurations", "remote_store.restore",
}

# Cluster privileges for undocumented APIs, by namespace: (read-only methods, other methods).
NAMESPACE_CLUSTER = {
    "security": ("read_security", "manage_security"), "ml": ("monitor_ml", "manage_ml"),
    "watcher": ("monitor_watcher", "manage_watcher"), "transform": ("monitor_transform", "manage_transform"),
    "transforms": ("monitor_transform", "manage_transform"), "rollup": ("monitor_rollup", "manage_rollup"),
    "rollups": ("monitor_rollup", "manage_rollup"), "ilm": ("read_ilm", "manage_ilm"), "ism": ("read_ilm", "manage_ilm"),
    "slm": ("read_slm", "manage_slm"), "sm": ("read_slm", "manage_slm"), "snapshot": ("monitor_snapshot", "manage"),
    "ingest": ("read_pipeline", "manage_ingest_pipelines"), "search_pipeline": ("read_pipeline", "manage_pipeline"),
    "enrich": ("monitor_enrich", "manage_enrich"), "inference": ("monitor_inference", "manage_inference"),
    "ccr": ("read_ccr", "manage_ccr"), "replication": ("read_ccr", "manage_ccr"),
    "connector": ("monitor_connector", "manage_connector"), "esql": ("monitor_esql", "manage_esql"),
    "text_structure": ("monitor_text_structure", "monitor_text_structure"),
    "synonyms": ("manage_search_synonyms", "manage_search_synonyms"),
    "query_rules": ("manage_search_query_rules", "manage_search_query_rules"),
    "search_application": ("manage_search_application", "manage_search_application"),
    "logstash": ("manage_logstash_pipelines", "manage_logstash_pipelines"),
    "autoscaling": ("manage_autoscaling", "manage_autoscaling"),
}
READ_METHODS = {"GET", "HEAD"}

# Body inspectors by API (the rest: generic field paths from the spec, plus the query DSL walk).
BODY = {
    "bulk": "Bulk", "monitoring.bulk": "Bulk", "bulk_stream": "Bulk",
    "msearch": "Msearch", "fleet.msearch": "Msearch", "msearch_template": "MsearchTemplate",
    "search_template": "Template", "render_search_template": "Template",
    "indices.update_aliases": "Aliases",
    "sql.query": "Sql", "sql.translate": "Sql", "esql.query": "Esql", "esql.async_query": "Esql",
    # A view is read later by name, as Sluice's service account: its creator must be able to
    # read what its query reads.
    "esql.put_view": "Esql",
    # Read for what they would do to Sluice's service account (a client_credentials token), or
    # answered by Sluice with them (invalidating the caller's own API keys).
    "security.get_token": "Json", "security.invalidate_api_key": "Json",
}
OS_BODY = {"sql.query": "Sql", "sql.explain": "Sql", "ppl.query": "Ppl", "ppl.explain": "Ppl", "query.execute": "Sql"}

# Opaque continuation ids: (kind, where the id is) for users, kind for creators.
USES = {
    "scroll": ("Scroll", "scroll_id"), "clear_scroll": ("Scroll", "scroll_id"),
    "close_point_in_time": ("Pit", "id"), "delete_pit": ("Pit", "pit_id"),
    "async_search.get": ("AsyncSearch", "id"), "async_search.status": ("AsyncSearch", "id"),
    "async_search.delete": ("AsyncSearch", "id"),
    "eql.get": ("Eql", "id"), "eql.get_status": ("Eql", "id"), "eql.delete": ("Eql", "id"),
    "esql.async_query_get": ("Esql", "id"), "esql.async_query_stop": ("Esql", "id"), "esql.async_query_delete": ("Esql", "id"),
    "sql.get_async": ("Sql", "id"), "sql.get_async_status": ("Sql", "id"), "sql.delete_async": ("Sql", "id"),
    "sql.clear_cursor": ("Sql", "cursor"), "sql.close": ("Sql", "cursor"),
    "asynchronous_search.get": ("AsyncSearch", "id"), "asynchronous_search.delete": ("AsyncSearch", "id"),
}
CREATES = {
    "open_point_in_time": "Pit", "create_pit": "Pit", "async_search.submit": "AsyncSearch",
    "eql.search": "Eql", "esql.async_query": "Esql", "asynchronous_search.search": "AsyncSearch",
}

INDEX_TYPES = {"indices", "index", "data_streams", "data_stream", "alias", "aliases", "index_or_alias",
               "alias_or_data_stream", "datasets", "dataset", "view", "views"}

def pick(listed, pref):
    for p in pref:
        if p in listed:
            return p
    return listed[0]

def namespace(api):
    return api.split(".")[0] if "." in api else ""

def targets_api(rows):
    """APIs that name index targets on some route (path, query, body or query text)."""
    out = set()
    for r in rows:
        if (r["index_params"] or r["index_query_params"] or r["body_index_fields"] or r["body_index_fields_untyped"]
                or r["index_privileges"] or r["api"] in BODY or r["api"] in OS_BODY):
            out.add(r["api"])
    return out

TARGETS_API = set()

def decide(r, product):
    api, method = r["api"], r["method"]
    o = OVERRIDES.get(api, {})
    read_only = method in READ_METHODS
    doc_i, doc_c = r.get("index_privileges"), r.get("cluster_privileges")
    has_idx = bool(r["index_params"]) or bool(r["index_query_params"])
    # cluster privilege
    if "cluster" in o:
        cluster = o["cluster"]
    elif "cluster_pathless" in o and not r["index_params"]:
        # Without a path index the request may name no index at all: a cluster privilege guards it.
        cluster = o["cluster_pathless"]
    elif doc_c:
        cluster = pick(doc_c, CLUSTER_PREF)
    elif has_idx or api in USES or (api in TARGETS_API and api not in CONFIGURES):
        # The API names its targets: the index privileges decide, no cluster privilege is added.
        cluster = None
    else:
        ns = namespace(api)
        lo, hi = NAMESPACE_CLUSTER.get(ns, ("monitor", "manage"))
        cluster = lo if read_only else hi
    # index privileges for path/query targets
    if "index" in o:
        index = o["index"]
    elif doc_i:
        index = [pick(doc_i, INDEX_PREF)]
    elif has_idx:
        index = ["view_index_metadata"] if read_only else ["manage"]
    else:
        index = []
    params = []
    for p in r["index_params"] + [p for p in o.get("extra_params", []) if p in r["path_params"]]:
        privs = o.get("params", {}).get(p, index)
        params.append((p, r["index_param_kinds"].get(p, "alias" if p in o.get("extra_params", []) else "indices"), privs))
    # body
    if api in USES:
        kind = "Continuation"
    elif product == "os" and api in OS_BODY:
        kind = OS_BODY[api]
    elif api in BODY:
        kind = BODY[api]
    elif api in CONFIGURES or r["body"] == "none":
        kind = "None"
    elif r["body_index_fields"] or r["body_index_fields_untyped"] or r["body_query_dsl"] or "fields" in o:
        kind = "Json"
    else:
        kind = "None"
    fields = []
    if kind == "Json":
        default = index or (["read"] if read_only else ["manage"])
        for f in r["body_index_fields"] + r["body_index_fields_untyped"]:
            if f.startswith("[]"):
                continue
            fields.append((f, o.get("fields", {}).get(f, default)))
        for f, privs in o.get("fields", {}).items():
            if f not in [x for x, _ in fields]:
                fields.append((f, privs))
    dsl = bool(r["body_query_dsl"] or o.get("dsl")) and kind in ("Json", "Template")
    use = USES.get(api)
    create = CREATES.get(api)
    if api == "sql.query":
        use, create = ("Sql", "cursor"), "Sql"
    if api == "clear_scroll" or (api == "scroll"):
        pass
    return dict(api=api, cluster=cluster, params=params, query=r["index_query_params"], index=index,
                body=kind, fields=fields, dsl=dsl, use=use, create=create)

# APIs whose path-less form needs items in the body rather than meaning "every index".
NO_IMPLICIT_ALL = {"bulk", "monitoring.bulk", "bulk_stream", "mget", "mtermvectors", "msearch", "msearch_template",
                   "fleet.msearch", "reindex", "indices.update_aliases", "indices.put_alias", "cluster.health",
                   "cluster.state", "cluster.allocation_explain", "migration.deprecations"}

def implicit_all(routes):
    """A route without an index parameter of an API that has one elsewhere acts on every index
    (GET /_search, GET /_mapping, POST /_refresh): it gets an implicit `*` target with the
    privileges the API's indexed routes need."""
    by_api = {}
    for d in routes.values():
        if d["params"]:
            by_api.setdefault(d["api"], [p for _, _, p in d["params"] if p][:1] or [d["index"]])
    for d in routes.values():
        d["implicit"] = False
        if d["params"] or d["api"] in NO_IMPLICIT_ALL or d["api"] not in by_api or d["use"]:
            continue
        privs = d["index"] or by_api[d["api"]][0]
        if privs:
            d["implicit"] = True
            d["index"] = privs

def rust_privs(enum, privs):
    return "&[" + ", ".join(f"{enum}::{camel(p)}" for p in privs) + "]"

def camel(s):
    return "".join(w.capitalize() for w in s.split("_"))

def main():
    es, osr = load("elasticsearch-endpoints.jsonl"), load("opensearch-endpoints.jsonl")
    TARGETS_API.update(targets_api(es + osr))
    routes = {}
    for product, rows in (("es", es), ("os", osr)):
        for r in rows:
            key = (r["method"], r["path"])
            api = r["api"]
            if key == ("PUT", "/_inference/{task_type}/{x_inference_id}") or (api.startswith("inference.put_") and r["method"] == "PUT"):
                r = dict(r, api="inference.put")
            d = decide(r, product)
            if key in routes:
                prev = routes[key]
                prev["products"].add(product)
                if prev["api"] != d["api"] and product == "os":
                    continue
                # both products: keep the stronger body inspection and merge fields
                if prev["body"] == "None" and d["body"] != "None":
                    prev.update({k: d[k] for k in ("body", "fields", "dsl")})
                for f in d["fields"]:
                    if f[0] not in [x for x, _ in prev["fields"]]:
                        prev["fields"].append(f)
                for q in d["query"]:
                    if q not in prev["query"]:
                        prev["query"].append(q)
                continue
            d["products"] = {product}
            d["method"], d["path"] = key
            routes[key] = d
    implicit_all(routes)
    out = ["// @generated by tools/gen_routes.py from tests/data/*-endpoints.jsonl. Do not edit.",
           "// Regenerate: python3 tools/gen_routes.py",
           "",
           "use super::routes::{BodyKind, ContKind, FieldDef, ParamDef, RouteDef, ES, OS};",
           "use crate::privilege::{ClusterPriv, IndexPriv};",
           "",
           "pub static ROUTES: &[RouteDef] = &["]
    for key in sorted(routes):
        d = routes[key]
        prods = " | ".join(p.upper() for p in sorted(d["products"]))
        cluster = f"Some(ClusterPriv::{camel(d['cluster'])})" if d["cluster"] else "None"
        params = ", ".join(f"ParamDef {{ name: {json.dumps(n)}, kind: {json.dumps(k)}, privs: {rust_privs('IndexPriv', p)} }}" for n, k, p in d["params"])
        fields = ", ".join(f"FieldDef {{ path: {json.dumps(f)}, privs: {rust_privs('IndexPriv', p)} }}" for f, p in d["fields"])
        query = ", ".join(json.dumps(q) for q in d["query"])
        use = f"Some((ContKind::{d['use'][0]}, {json.dumps(d['use'][1])}))" if d["use"] else "None"
        create = f"Some(ContKind::{d['create']})" if d["create"] else "None"
        out.append(f"    RouteDef {{ method: {json.dumps(d['method'])}, path: {json.dumps(d['path'])}, api: {json.dumps(d['api'])}, "
                   f"products: {prods}, cluster: {cluster}, index: {rust_privs('IndexPriv', d['index'])}, "
                   f"params: &[{params}], query: &[{query}], body: BodyKind::{d['body']}, fields: &[{fields}], dsl: {str(d['dsl']).lower()}, "
                   f"uses: {use}, creates: {create}, implicit_all: {str(d['implicit']).lower()} }},")
    out.append("];")
    text = "\n".join(out) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                print("src/classify/routes_gen.rs is stale: run python3 tools/gen_routes.py", file=sys.stderr)
                sys.exit(1)
        return
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {len(routes)} routes to {os.path.relpath(OUT, ROOT)}")

if __name__ == "__main__":
    main()
