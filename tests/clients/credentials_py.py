"""Drives Sluice with the official clients' own credential options and continuations
(argv: Sluice's URL, an API key's encoded form, its id, its secret) and prints what the clients
saw as one JSON object for tests/clients.rs to check.

elasticsearch-py: `api_key=` (encoded and as an (id, secret) pair), `basic_auth=`, a wrong
password, `security.authenticate()` and `security.has_privileges()`, a scroll and a point in time opened by one caller and presented by another.
opensearch-py: `http_auth=`, search, a denied search, a bulk with denied items."""
import json
import sys

from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch
from opensearchpy import OpenSearch
from opensearchpy import helpers as os_helpers
from opensearchpy.exceptions import AuthorizationException as OsAuthorizationException

url, encoded, key_id, secret = sys.argv[1:5]
out = {}


def status_of(call):
    """The HTTP status the client reports for a call: 200 when it succeeded."""
    try:
        call()
        return 200
    except (AuthenticationException, AuthorizationException) as e:
        return e.meta.status
    except OsAuthorizationException as e:
        return e.status_code


by_key = Elasticsearch(url, api_key=encoded, request_timeout=10)
by_pair = Elasticsearch(url, api_key=(key_id, secret), request_timeout=10)
alice = Elasticsearch(url, basic_auth=("alice", "alice-pw"), request_timeout=10)
wrong = Elasticsearch(url, basic_auth=("alice", "not-her-password"), request_timeout=10)

out["key_search"] = by_key.search(index="logs-*")["hits"]["total"]["value"]
out["key_secret"] = status_of(lambda: by_key.search(index="secret"))
out["pair_count"] = by_pair.count(index="logs-app")["count"]
out["alice_search"] = alice.search(index="logs-app")["hits"]["total"]["value"]
out["wrong_password"] = status_of(lambda: wrong.search(index="logs-app"))

# Who the caller is and what it may do, as Sluice sees it (not the service account).
out["key_whoami"] = by_key.security.authenticate()["username"]
held = alice.security.has_privileges(index=[{"names": ["logs-app"], "privileges": ["read", "delete_index"]}])
out["alice_has"] = held["index"]["logs-app"]

# A key minted through Elasticsearch's own API is a Sluice key holding alice's grants.
minted = alice.security.create_api_key(name="py-etl", expiration="1h")
by_minted = Elasticsearch(url, api_key=minted["encoded"], request_timeout=10)
out["minted_whoami"] = by_minted.security.authenticate()["username"]
out["minted_secret"] = status_of(lambda: by_minted.search(index="secret"))
out["minted_listed"] = [k["name"] for k in alice.security.get_api_key()["api_keys"]]
out["minted_invalidated"] = alice.security.invalidate_api_key(ids=[minted["id"]])["invalidated_api_keys"] == [minted["id"]]
out["minted_after"] = status_of(lambda: by_minted.search(index="logs-app"))

# A scroll belongs to the caller that opened it.
first = alice.search(index="logs-*", scroll="1m", size=1)
scroll_id = first["_scroll_id"]
out["alice_scroll"] = status_of(lambda: alice.scroll(scroll_id=scroll_id, scroll="1m"))
out["key_scroll"] = status_of(lambda: by_key.scroll(scroll_id=scroll_id, scroll="1m"))

# So does a point in time.
pit = alice.open_point_in_time(index="logs-*", keep_alive="1m")["id"]
out["alice_pit"] = status_of(lambda: alice.search(pit={"id": pit, "keep_alive": "1m"}, size=1))
out["key_pit"] = status_of(lambda: by_key.search(pit={"id": pit, "keep_alive": "1m"}, size=1))

osc = OpenSearch(hosts=[url], http_auth=("alice", "alice-pw"), timeout=10)
out["os_info"] = osc.info()["cluster_name"]
out["os_search"] = osc.search(index="logs-*", body={"query": {"match_all": {}}})["hits"]["total"]["value"]
out["os_secret"] = status_of(lambda: osc.search(index="secret", body={"query": {"match_all": {}}}))
actions = [{"_op_type": "index", "_index": "secret" if i % 2 else "logs-app", "_id": str(i), "n": i} for i in range(6)]
ok, errors = os_helpers.bulk(osc, actions, raise_on_error=False)
out["os_bulk_ok"] = ok
out["os_bulk_denied"] = sorted(int(e["index"]["_id"]) for e in errors if e["index"]["status"] == 403)
print(json.dumps(out))
