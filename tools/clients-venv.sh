#!/usr/bin/env bash
# Installs the official clients for the end-to-end tests in tests/clients.rs (run by .ci/run;
# optional on a workstation): the Elasticsearch and OpenSearch Python clients into
# target/clients-venv, the Elasticsearch JavaScript client into target/clients-node.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/clients-venv
if [[ ! -x $venv/bin/python ]]; then
  mkdir -p target
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
fi
"$venv/bin/pip" install -q --disable-pip-version-check "elasticsearch>=8,<9" "opensearch-py>=2,<4"
"$venv/bin/python" -c 'import elasticsearch, opensearchpy; print("elasticsearch-py", elasticsearch.__versionstr__, "opensearch-py", opensearchpy.__versionstr__)'

if ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
mkdir -p target/clients-node
npm install --no-audit --no-fund --silent --prefix target/clients-node "@elastic/elasticsearch@8"
echo "elasticsearch-js $(node -p 'require("./target/clients-node/node_modules/@elastic/elasticsearch/package.json").version')"
