#!/usr/bin/env bash
# Installs the official Elasticsearch and OpenSearch Python clients into target/clients-venv for the
# end-to-end test in tests/clients.rs (run by .ci/run; optional on a workstation).
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
