"""Drives Sluice with the official Elasticsearch Python client (argv[1] = Sluice's URL) and
prints what it saw as one JSON object for tests/clients.rs to check."""
import json
import sys

from elasticsearch import AuthorizationException, Elasticsearch, helpers

es = Elasticsearch(sys.argv[1], http_compress=True, request_timeout=10)
out = {"info": es.info()["cluster_name"]}
out["search"] = es.search(index="logs-*", query={"match_all": {}})["hits"]["total"]["value"]
try:
    es.search(index="secret", query={"match_all": {}})
    out["secret"] = "allowed"
except AuthorizationException as e:
    out["secret"] = e.meta.status
actions = [{"_op_type": "index", "_index": "secret" if i % 3 == 1 else "logs-app", "_id": str(i), "n": i} for i in range(10)]
ok, errors = helpers.bulk(es, actions, raise_on_error=False)
out["bulk_ok"] = ok
out["bulk_denied"] = sorted(int(e["index"]["_id"]) for e in errors if e["index"]["status"] == 403)
docs = es.mget(docs=[{"_index": "logs-app", "_id": "1"}, {"_index": "secret", "_id": "2"}])["docs"]
out["mget_errors"] = [d.get("error", {}).get("type") for d in docs]
# Continuations: an SQL cursor after a page of 1,000 rows, and the new id an msearch over a
# point in time hands out, are honoured on the next call.
page = es.sql.query(query='SELECT * FROM "logs-app"', fetch_size=1000)
out["sql_rows"] = len(page["rows"])
out["sql_next_rows"] = len(es.sql.query(cursor=page["cursor"])["rows"])
pit = es.open_point_in_time(index="logs-app", keep_alive="1m")["id"]
answer = es.msearch(searches=[{}, {"pit": {"id": pit}}])["responses"][0]
out["msearch_pit_renewed"] = answer["pit_id"] == pit + "+1"
out["search_over_renewed_pit"] = es.search(pit={"id": answer["pit_id"]})["hits"]["total"]["value"]
print(json.dumps(out))
