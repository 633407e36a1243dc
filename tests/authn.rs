//! Authentication end to end over real sockets: each scheme's success and its failures, JWKS
//! rotation (file and https URL), API keys with an injected clock, Basic with the users file,
//! mTLS, the trusted proxy header, the admin API's own authentication, service credentials.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sluice::clock::ManualClock;
use support::client::{call, full, Got, Sender};
use support::{FakeNode, SluiceBuilder, TestPki};

const NOW_S: i64 = 1_795_000_000; // 2026-11-18
const SECRET: &str = "a-test-secret-of-decent-length-0123456789";

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn b64url(s: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

async fn get(addr: SocketAddr, auth: &str) -> Got {
    let headers: Vec<(&str, &str)> = if auth.is_empty() { vec![] } else { vec![("authorization", auth)] };
    call(addr, "GET", "/logs/_search", &headers, "").await
}

fn assert_401(got: &Got) {
    assert_eq!(got.status, 401, "{}", got.text());
    let v = got.json();
    assert_eq!(v["error"]["type"], "security_exception");
    assert_eq!(v["status"], 401);
}

fn hs(claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

fn clock() -> Arc<ManualClock> {
    ManualClock::at_ms(NOW_S * 1000)
}

#[tokio::test]
async fn jwt_hs256_success_and_every_failure() {
    let node = FakeNode::start().await;
    let clk = clock();
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .clock(clk.clone())
        .env("TEST_JWT_SECRET", SECRET)
        .toml("[authn.jwt]\nhs256_secret_env = \"TEST_JWT_SECRET\"\nissuer = \"https://idp.test\"\naudience = \"sluice\"\nleeway = \"5s\"\n[upstream.auth]\nuser = \"svc\"\npassword_env = \"TEST_SVC_PW\"\nrun_as = true")
        .env("TEST_SVC_PW", "svc-pass")
        .start()
        .await;
    let good = json!({"sub": "alice", "groups": ["ops", "dev"], "exp": NOW_S + 60, "iss": "https://idp.test", "aud": "sluice"});
    let got = get(sluice.addr, &format!("Bearer {}", hs(&good))).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let seen = node.last();
    assert_eq!(seen.headers["authorization"], format!("Basic {}", b64(b"svc:svc-pass")));
    assert_eq!(seen.headers["es-security-runas-user"], "alice");

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        hs(&c)
    };
    let none_header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let none_token = format!("{none_header}.{}.", b64url(good.to_string().as_bytes()));
    let wrong_secret = encode(&Header::new(Algorithm::HS256), &good, &EncodingKey::from_secret(b"another-secret-entirely-000000000")).unwrap();
    let bad: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c["exp"] = json!(NOW_S - 10))),
        ("not yet valid", with(&|c| c["nbf"] = json!(NOW_S + 60))),
        ("wrong issuer", with(&|c| c["iss"] = json!("https://evil.test"))),
        ("wrong audience", with(&|c| c["aud"] = json!("other"))),
        ("no exp", with(&|c| drop(c.as_object_mut().unwrap().remove("exp")))),
        ("no sub", with(&|c| drop(c.as_object_mut().unwrap().remove("sub")))),
        ("alg none", none_token),
        ("wrong secret", wrong_secret),
        ("malformed", "not.a.jwt".into()),
        ("truncated", hs(&good)[..40].to_string()),
        ("garbage", "%%%%".into()),
        ("huge", "a".repeat(20_000)),
    ];
    for (what, token) in &bad {
        let got = get(sluice.addr, &format!("Bearer {token}")).await;
        assert!(got.status == 401 || (what == &"huge" && got.status == 431), "{what}: {}", got.status);
        if got.status == 401 {
            assert_401(&got);
            let challenges: Vec<_> = got.headers.get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_string()).collect();
            assert!(challenges.iter().any(|c| c.starts_with("Bearer")), "{what}: {challenges:?}");
            assert!(challenges.iter().any(|c| c == "ApiKey"), "{what}: {challenges:?}");
        }
    }
    // Leeway: five seconds after exp still passes, six does not.
    let edge = with(&|c| c["exp"] = json!(NOW_S - 5));
    assert_eq!(get(sluice.addr, &format!("Bearer {edge}")).await.status, 200);
    clk.advance_ms(1000);
    assert_eq!(get(sluice.addr, &format!("Bearer {edge}")).await.status, 401);
    // Missing credentials name the path; the node never saw a refused request.
    let got = get(sluice.addr, "").await;
    assert_401(&got);
    assert!(got.json()["error"]["reason"].as_str().unwrap().contains("missing authentication credentials"));
    assert_eq!(node.count(), 2);
}

struct EcKey {
    pair: rcgen::KeyPair,
    kid: String,
}

impl EcKey {
    fn new(kid: &str) -> Self {
        Self { pair: rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(), kid: kid.into() }
    }
    fn sign(&self, claims: &Value, with_kid: bool) -> String {
        let mut h = Header::new(Algorithm::ES256);
        if with_kid {
            h.kid = Some(self.kid.clone());
        }
        encode(&h, claims, &EncodingKey::from_ec_der(&self.pair.serialize_der())).unwrap()
    }
    fn jwk(&self) -> Value {
        let raw = self.pair.public_key_raw();
        json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
               "x": b64url(&raw[1..33]), "y": b64url(&raw[33..65])})
    }
}

fn jwks(keys: &[&EcKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

#[tokio::test]
async fn jwt_es256_public_key_and_hs_rs_confusion() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = EcKey::new("k1");
    let pem = key.pair.public_key_pem();
    std::fs::write(dir.path().join("pub.pem"), &pem).unwrap();
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .clock(clock())
        .dir(dir.path())
        .toml("[authn.jwt]\npublic_key_file = \"pub.pem\"\ngroups_claim = \"roles\"")
        .start()
        .await;
    let claims = json!({"sub": "bob", "roles": "analyst", "exp": NOW_S + 60});
    assert_eq!(get(sluice.addr, &format!("Bearer {}", key.sign(&claims, false))).await.status, 200);
    // HS256 signed with the public key as the secret: the classic key confusion.
    let confused = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(pem.as_bytes())).unwrap();
    assert_401(&get(sluice.addr, &format!("Bearer {confused}")).await);
    let other = EcKey::new("k2");
    assert_401(&get(sluice.addr, &format!("Bearer {}", other.sign(&claims, false))).await);
}

#[tokio::test]
async fn jwks_file_rotation_on_unknown_kid() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (EcKey::new("k1"), EcKey::new("k2"));
    std::fs::write(dir.path().join("jwks.json"), jwks(&[&k1])).unwrap();
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .clock(clock())
        .dir(dir.path())
        .toml("[authn.jwt]\njwks_file = \"jwks.json\"\njwks_min_interval = \"1ms\"")
        .start()
        .await;
    let claims = json!({"sub": "carol", "exp": NOW_S + 60});
    // The first fetch happens at start; an unknown kid waits for the refresh it triggers.
    assert_eq!(get(sluice.addr, &format!("Bearer {}", k1.sign(&claims, true))).await.status, 200);
    assert_401(&get(sluice.addr, &format!("Bearer {}", k2.sign(&claims, true))).await);
    std::fs::write(dir.path().join("jwks.json"), jwks(&[&k2])).unwrap();
    assert_eq!(get(sluice.addr, &format!("Bearer {}", k2.sign(&claims, true))).await.status, 200);
    // k1 left the set: its tokens stop working, even those verified before.
    assert_401(&get(sluice.addr, &format!("Bearer {}", k1.sign(&claims, true))).await);
}

/// A minimal https server answering every GET with the current JWKS document.
async fn jwks_server(pki: &TestPki, doc: Arc<std::sync::Mutex<String>>) -> SocketAddr {
    let cfg = pki.server_config(&pki.issue("idp", "idp.test"), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, doc) = (tokio_rustls::TlsAcceptor::from(cfg.clone()), doc.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let svc = hyper::service::service_fn(move |_req| {
                    let body = doc.lock().unwrap().clone();
                    async move { Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tls), svc).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn jwks_url_over_https_rotates_keys() {
    let node = FakeNode::start().await;
    let pki = TestPki::new();
    let (k1, k2) = (EcKey::new("k1"), EcKey::new("k2"));
    let doc = Arc::new(std::sync::Mutex::new(jwks(&[&k1])));
    let idp = jwks_server(&pki, doc.clone()).await;
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .clock(clock())
        .toml(&format!(
            "[authn.jwt]\njwks_url = \"https://localhost:{}/jwks.json\"\njwks_ca = {:?}\njwks_min_interval = \"1ms\"",
            idp.port(),
            pki.ca()
        ))
        .start()
        .await;
    let claims = json!({"sub": "dave", "exp": NOW_S + 60});
    assert_eq!(get(sluice.addr, &format!("Bearer {}", k1.sign(&claims, true))).await.status, 200);
    *doc.lock().unwrap() = jwks(&[&k1, &k2]);
    assert_eq!(get(sluice.addr, &format!("Bearer {}", k2.sign(&claims, true))).await.status, 200);
    assert_401(&get(sluice.addr, &format!("Bearer {}", EcKey::new("k3").sign(&claims, true))).await);
}

async fn admin(sluice: &support::Sluice, method: &str, path: &str, body: &str) -> Got {
    call(sluice.admin, method, path, &[("authorization", "Bearer admin-secret-0123456789")], body).await
}

#[tokio::test]
async fn api_keys_created_used_listed_expired_invalidated_and_persisted() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clk = clock();
    let builder = || {
        SluiceBuilder::new(&[node.url()])
            .no_anonymous()
            .clock(clk.clone())
            .dir(dir.path())
            .env("TEST_ADMIN_TOKEN", "admin-secret-0123456789")
            .toml("[admin]\ntoken_env = \"TEST_ADMIN_TOKEN\"\n[grants]\nstate_file = \"state.json\"\n[upstream.auth]\napi_key_env = \"TEST_SVC_KEY\"")
            .env("TEST_SVC_KEY", "c3ZjOmtleQ==")
    };
    let sluice = builder().start().await;
    // The admin API refuses callers without the token.
    assert_eq!(call(sluice.admin, "GET", "/_sluice/api_keys", &[], "").await.status, 401);
    assert_eq!(call(sluice.admin, "GET", "/_sluice/api_keys", &[("authorization", "Bearer wrong")], "").await.status, 401);
    let created = admin(&sluice, "POST", "/_sluice/api_keys", r#"{"name":"ops-311","owner":"erin","groups":["ops"],"expiration":"1h"}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let c = created.json();
    let (id, secret, encoded) = (c["id"].as_str().unwrap(), c["api_key"].as_str().unwrap(), c["encoded"].as_str().unwrap());
    assert_eq!(encoded, b64(format!("{id}:{secret}").as_bytes()));
    assert_eq!(c["name"], "ops-311");
    let got = get(sluice.addr, &format!("ApiKey {encoded}")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(node.last().headers["authorization"], "ApiKey c3ZjOmtleQ==");
    // Wrong secret, unknown id, bad base64.
    assert_401(&get(sluice.addr, &format!("ApiKey {}", b64(format!("{id}:nope").as_bytes()))).await);
    assert_401(&get(sluice.addr, &format!("ApiKey {}", b64(b"nobody:nothing"))).await);
    assert_401(&get(sluice.addr, "ApiKey ***").await);
    // Listing never shows a secret or a hash.
    let list = admin(&sluice, "GET", "/_sluice/api_keys", "").await.text();
    assert!(list.contains(id) && !list.contains(secret) && !list.contains("hash"), "{list}");
    // The state file holds the hash, not the secret; a restart keeps the key.
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(state.contains(id) && !state.contains(secret));
    sluice.stop().await;
    let sluice = builder().start().await;
    assert_eq!(get(sluice.addr, &format!("ApiKey {encoded}")).await.status, 200);
    // Dead at its expiry, to the millisecond.
    clk.advance_ms(3_600_000 - 1);
    assert_eq!(get(sluice.addr, &format!("ApiKey {encoded}")).await.status, 200);
    clk.advance_ms(1);
    assert_401(&get(sluice.addr, &format!("ApiKey {encoded}")).await);
    // Invalidation.
    let other = admin(&sluice, "POST", "/_sluice/api_keys", r#"{"name":"x","owner":"erin"}"#).await.json();
    let other_enc = other["encoded"].as_str().unwrap();
    assert_eq!(get(sluice.addr, &format!("ApiKey {other_enc}")).await.status, 200);
    let inv = admin(&sluice, "DELETE", &format!("/_sluice/api_keys/{}", other["id"].as_str().unwrap()), "").await;
    assert_eq!(inv.json()["invalidated_api_keys"][0], other["id"]);
    assert_401(&get(sluice.addr, &format!("ApiKey {other_enc}")).await);
    assert_eq!(admin(&sluice, "DELETE", "/_sluice/api_keys/missing", "").await.status, 404);
    // Validation errors.
    assert_eq!(admin(&sluice, "POST", "/_sluice/api_keys", r#"{"owner":"erin"}"#).await.status, 400);
    assert_eq!(admin(&sluice, "POST", "/_sluice/api_keys", r#"{"name":"a","owner":"e","expiration":"soon"}"#).await.status, 400);
    assert_eq!(admin(&sluice, "POST", "/_sluice/api_keys", "{not json").await.status, 400);
}

fn users_file(dir: &std::path::Path, users: &[(&str, &str, &[&str])]) {
    let mut s = String::new();
    for (name, hash, groups) in users {
        s.push_str(&format!("[[users]]\nname = {name:?}\nhash = {hash:?}\ngroups = {groups:?}\n"));
    }
    std::fs::write(dir.join("users.toml"), s).unwrap();
}

#[tokio::test]
async fn basic_argon2_and_bcrypt_with_reload() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let argon = sluice::authn::basic::hash_password("alice-pw").unwrap();
    assert!(argon.starts_with("$argon2id$"));
    let bcrypt = bcrypt::hash("bob-pw", 4).unwrap();
    users_file(dir.path(), &[("alice", &argon, &["ops"]), ("bob", &bcrypt, &[])]);
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .dir(dir.path())
        .toml("[authn.basic]\nusers_file = \"users.toml\"")
        .start()
        .await;
    let basic = |u: &str, p: &str| format!("Basic {}", b64(format!("{u}:{p}").as_bytes()));
    for _ in 0..2 {
        // The second round is served from the verification cache.
        assert_eq!(get(sluice.addr, &basic("alice", "alice-pw")).await.status, 200);
        assert_eq!(get(sluice.addr, &basic("bob", "bob-pw")).await.status, 200);
    }
    assert_401(&get(sluice.addr, &basic("alice", "wrong")).await);
    assert_401(&get(sluice.addr, &basic("mallory", "alice-pw")).await);
    assert_401(&get(sluice.addr, "Basic !!notbase64").await);
    assert_401(&get(sluice.addr, &format!("Basic {}", b64(b"no-colon"))).await);
    let got = get(sluice.addr, "").await;
    assert!(got.headers.get_all("www-authenticate").iter().any(|v| v.to_str().unwrap().starts_with("Basic realm=")));
    // The caller's Authorization never reaches the node (no service credentials configured here).
    assert!(node.last().headers.get("authorization").is_none());
    // A changed users file drops cached verifications: bob is gone, alice's password changed.
    users_file(dir.path(), &[("alice", &sluice::authn::basic::hash_password("new-pw").unwrap(), &["ops"])]);
    sluice.reload();
    let mut tries = 0;
    while get(sluice.addr, &basic("bob", "bob-pw")).await.status == 200 {
        tries += 1;
        assert!(tries < 200, "users file never reloaded");
        tokio::task::yield_now().await;
    }
    assert_401(&get(sluice.addr, &basic("alice", "alice-pw")).await);
    assert_eq!(get(sluice.addr, &basic("alice", "new-pw")).await.status, 200);
}

#[tokio::test]
async fn mtls_identity_and_trusted_proxy_header() {
    let pki = TestPki::new();
    let node = FakeNode::start().await;
    let server = pki.issue("front", "sluice.test");
    let kibana = pki.issue("kibana", "kibana-server");
    let person = pki.issue("person", "frank");
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .toml(&format!(
            "[listen.tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n[authn.mtls]\nuser_from = \"cn\"\n[authn.proxy]\nuser_header = \"x-proxy-user\"\ngroups_header = \"x-proxy-groups\"\ntrusted_cns = [\"kibana-server\"]",
            server.cert, server.key, pki.ca()
        ))
        .start()
        .await;
    let mut c = Sender::tls(sluice.addr, pki.client_config(Some(&person), &[b"http/1.1"])).await;
    let r = http::Request::get(format!("https://localhost:{}/_cluster/health", sluice.addr.port()))
        .header("x-proxy-user", "admin")
        .body(full(""))
        .unwrap();
    assert_eq!(c.fetch(r).await.status, 200);
    // frank is not a trusted proxy: his x-proxy-user is ignored and removed; he is frank.
    assert!(node.last().headers.get("x-proxy-user").is_none());
    let mut k = Sender::tls(sluice.addr, pki.client_config(Some(&kibana), &[b"http/1.1"])).await;
    let r = http::Request::get(format!("https://localhost:{}/_cluster/health", sluice.addr.port()))
        .header("x-proxy-user", "grace")
        .header("x-proxy-groups", "ops,dev")
        .body(full(""))
        .unwrap();
    assert_eq!(k.fetch(r).await.status, 200);
    assert!(node.last().headers.get("x-proxy-user").is_none());
}

#[tokio::test]
async fn proxy_header_trusted_only_from_configured_sources() {
    let node = FakeNode::start().await;
    let trusted = SluiceBuilder::new(&[node.url()]).no_anonymous().toml("[authn.proxy]\nuser_header = \"x-proxy-user\"\ntrusted_sources = [\"127.0.0.0/8\"]").start().await;
    let got = call(trusted.addr, "GET", "/_cluster/health", &[("x-proxy-user", "grace")], "").await;
    assert_eq!(got.status, 200, "{}", got.text());
    let untrusted = SluiceBuilder::new(&[node.url()]).no_anonymous().toml("[authn.proxy]\nuser_header = \"x-proxy-user\"\ntrusted_sources = [\"10.0.0.0/8\"]").start().await;
    assert_401(&call(untrusted.addr, "GET", "/_cluster/health", &[("x-proxy-user", "grace")], "").await);
}

#[tokio::test]
async fn unknown_schemes_and_odd_headers_are_401_not_panics() {
    let node = FakeNode::start().await;
    let sluice = SluiceBuilder::new(&[node.url()]).no_anonymous().toml("[authn.api_keys]\nenabled = true").start().await;
    for auth in ["Negotiate abc", "Bearer x", "ApiKey", "Basic", "", "   "] {
        let got = get(sluice.addr, auth).await;
        assert_eq!(got.status, 401, "[{auth}]");
    }
    let mut raw = b"GET /_search HTTP/1.1\r\nhost: x\r\nauthorization: ApiKey \xff\xfe\r\n\r\n".to_vec();
    let text = support::client::raw(sluice.addr, &raw, std::time::Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    raw.clear();
    assert_eq!(node.count(), 0);
}

/// curl, as a user would run it, authenticates with Basic, ApiKey and Bearer; the node sees only
/// Sluice's service credentials.
#[tokio::test]
async fn curl_authenticates_with_basic_api_key_and_bearer() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    users_file(dir.path(), &[("alice", &bcrypt::hash("alice-pw", 4).unwrap(), &["ops"])]);
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .dir(dir.path())
        .env("TEST_JWT_SECRET", SECRET)
        .env("TEST_ADMIN_TOKEN", "admin-secret-0123456789")
        .env("TEST_SVC_PW", "svc-pass")
        .toml("[authn.basic]\nusers_file = \"users.toml\"\n[authn.jwt]\nhs256_secret_env = \"TEST_JWT_SECRET\"\n[admin]\ntoken_env = \"TEST_ADMIN_TOKEN\"\n[upstream.auth]\nuser = \"svc\"\npassword_env = \"TEST_SVC_PW\"")
        .start()
        .await;
    let key = admin(&sluice, "POST", "/_sluice/api_keys", r#"{"name":"k","owner":"erin"}"#).await.json();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = hs(&json!({"sub": "alice", "exp": now + 600}));
    let url = format!("{}/logs/_search", sluice.url());
    let runs: Vec<Vec<String>> = vec![
        vec!["-u".into(), "alice:alice-pw".into(), url.clone()],
        vec!["-H".into(), format!("Authorization: ApiKey {}", key["encoded"].as_str().unwrap()), url.clone()],
        vec!["-H".into(), format!("Authorization: Bearer {token}"), url.clone()],
        vec!["-u".into(), "alice:wrong".into(), url.clone()],
    ];
    let mut codes = Vec::new();
    for args in runs {
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("curl").args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"]).args(&args).output().expect("curl is installed")
        })
        .await
        .unwrap();
        codes.push(String::from_utf8_lossy(&out.stdout).to_string());
    }
    assert_eq!(codes, ["200", "200", "200", "401"]);
    let seen = node.received();
    assert_eq!(seen.len(), 3);
    for r in seen {
        assert_eq!(r.headers["authorization"], format!("Basic {}", b64(b"svc:svc-pass")));
    }
}

#[tokio::test]
async fn jwt_claims_by_dotted_path_or_full_name() {
    let node = FakeNode::start().await;
    let start = |user_claim: &str, groups_claim: &str| {
        SluiceBuilder::new(&[node.url()])
            .no_anonymous()
            .clock(clock())
            .env("TEST_JWT_SECRET", SECRET)
            .toml(&format!("[authn.jwt]\nhs256_secret_env = \"TEST_JWT_SECRET\"\nuser_claim = {user_claim:?}\ngroups_claim = {groups_claim:?}"))
            .start()
    };
    let whoami = |addr, token: String| async move { call(addr, "GET", "/_security/_authenticate", &[("authorization", &format!("Bearer {token}"))], "").await.json() };
    // Keycloak puts roles in a nested object.
    let keycloak = start("preferred_username", "realm_access.roles").await;
    let token = hs(&json!({"sub": "f:1234", "preferred_username": "alice", "realm_access": {"roles": ["sre", "dev"]}, "exp": NOW_S + 60}));
    let me = whoami(keycloak.addr, token).await;
    assert_eq!((me["username"].clone(), me["roles"].clone()), (json!("alice"), json!(["sre", "dev"])));
    // A namespaced claim is found by its full name, dots and all.
    let auth0 = start("sub", "https://example.com/groups").await;
    let token = hs(&json!({"sub": "bob", "https://example.com/groups": ["ops"], "exp": NOW_S + 60}));
    assert_eq!(whoami(auth0.addr, token).await["roles"], json!(["ops"]));
    // A path that leads nowhere is no groups; one that leads to a number is a bad token.
    let token = hs(&json!({"sub": "carol", "realm_access": {}, "exp": NOW_S + 60}));
    let keycloak2 = start("sub", "realm_access.roles").await;
    assert_eq!(whoami(keycloak2.addr, token).await["roles"], json!([]));
    let token = hs(&json!({"sub": "carol", "realm_access": {"roles": 7}, "exp": NOW_S + 60}));
    assert_401(&get(keycloak2.addr, &format!("Bearer {token}")).await);
}
