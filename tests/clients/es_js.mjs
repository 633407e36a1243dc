// Drives Sluice with the official Elasticsearch JavaScript client (the transport Kibana uses)
// with compression on and an API key (argv: Sluice's URL, the key's encoded form, the folder
// the client is installed in), and prints what it saw as one JSON object for tests/clients.rs.
import { createRequire } from 'node:module'

const [url, apiKey, installed] = process.argv.slice(2)
const { Client } = createRequire(installed + '/')('@elastic/elasticsearch')
const es = new Client({ node: url, compression: true, auth: { apiKey }, requestTimeout: 10000 })
const out = {}
const status = async (call) => {
  try { await call(); return 200 } catch (e) { return e.meta ? e.meta.statusCode : String(e) }
}

out.info = (await es.info()).cluster_name
out.search = (await es.search({ index: 'logs-*', query: { match_all: {} } })).hits.total.value
out.secret = await status(() => es.search({ index: 'secret', query: { match_all: {} } }))
const operations = []
for (let i = 0; i < 6; i++) operations.push({ index: { _index: i % 2 ? 'secret' : 'logs-app', _id: String(i) } }, { n: i })
const bulk = await es.bulk({ operations })
out.bulk_errors = bulk.errors
out.bulk_denied = bulk.items.filter((it) => it.index.status === 403).map((it) => Number(it.index._id))
out.whoami = (await es.security.authenticate()).username
// What Kibana does to page: a point in time, searched with no index, then closed.
const pit = await es.openPointInTime({ index: 'logs-*', keep_alive: '1m' })
out.pit_sealed = pit.id.startsWith('sl1.')
const page = await es.search({ pit: { id: pit.id, keep_alive: '1m' }, size: 1, sort: [{ _shard_doc: 'asc' }] })
out.pit_hits = page.hits.hits.length
out.pit_closed = await status(() => es.closePointInTime({ id: pit.id }))
console.log(JSON.stringify(out))
