//! Continuation ids (scroll, point in time, async search/SQL/ES|QL/EQL) bound to the principal
//! that created them and to the grants that allowed it: another principal presenting one is
//! denied, and a binding dies with its grants.

use std::sync::Arc;
use std::time::Duration;

use crate::authn::{Principal, Scheme};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub owner: String,
    pub grants: Vec<String>,
}

pub struct Bindings {
    map: moka::sync::Cache<String, Arc<Binding>>,
}

/// The identity a continuation is bound to: the user, and the API key when one was used.
pub fn owner(p: &Principal) -> String {
    match (&p.scheme, &p.credential_id) {
        (Scheme::ApiKey, Some(id)) => format!("{}/api_key:{id}", p.user),
        _ => p.user.clone(),
    }
}

impl Bindings {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self { map: moka::sync::Cache::builder().max_capacity(capacity).time_to_live(ttl).build() }
    }

    /// Binds an id; an id bound to someone else keeps its owner.
    pub fn bind(&self, id: &str, p: &Principal, grants: Vec<String>) {
        let me = owner(p);
        if self.map.get(id).is_some_and(|b| b.owner != me) {
            return;
        }
        self.map.insert(id.to_string(), Arc::new(Binding { owner: owner(p), grants }));
    }

    pub fn get(&self, id: &str) -> Option<Arc<Binding>> {
        self.map.get(id)
    }
}
