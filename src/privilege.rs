//! Elasticsearch's privilege vocabulary and what implies what, shared by classification
//! (which privilege a request needs) and authorization (which privileges a grant holds).
//!
//! Privileges are small enums so a set of them is a `u64` bitmask; `closure` gives every
//! privilege a held one implies (e.g. index `write` covers index, create, create_doc, delete;
//! `manage` covers monitor, view_index_metadata, maintenance, create_index, delete_index, …;
//! cluster `manage` covers every cluster privilege except the security ones).

macro_rules! vocabulary {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
            pub fn bit(self) -> u64 {
                1u64 << (self as u8)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

vocabulary!(IndexPriv {
    All = "all",
    AutoConfigure = "auto_configure",
    Create = "create",
    CreateDoc = "create_doc",
    CreateIndex = "create_index",
    CreateView = "create_view",
    CrossClusterReplication = "cross_cluster_replication",
    Delete = "delete",
    DeleteIndex = "delete_index",
    DeleteView = "delete_view",
    Index = "index",
    Maintenance = "maintenance",
    Manage = "manage",
    ManageDataStreamLifecycle = "manage_data_stream_lifecycle",
    ManageFailureStore = "manage_failure_store",
    ManageFollowIndex = "manage_follow_index",
    ManageIlm = "manage_ilm",
    ManageLeaderIndex = "manage_leader_index",
    ManageView = "manage_view",
    Monitor = "monitor",
    None = "none",
    Read = "read",
    ReadCrossCluster = "read_cross_cluster",
    ReadFailureStore = "read_failure_store",
    ReadViewMetadata = "read_view_metadata",
    ViewIndexMetadata = "view_index_metadata",
    Write = "write",
});

vocabulary!(ClusterPriv {
    All = "all",
    CancelTask = "cancel_task",
    CreateSnapshot = "create_snapshot",
    CrossClusterReplication = "cross_cluster_replication",
    CrossClusterSearch = "cross_cluster_search",
    GrantApiKey = "grant_api_key",
    Manage = "manage",
    ManageApiKey = "manage_api_key",
    ManageAutoscaling = "manage_autoscaling",
    ManageBehavioralAnalytics = "manage_behavioral_analytics",
    ManageCcr = "manage_ccr",
    ManageConnector = "manage_connector",
    ManageDataStreamGlobalRetention = "manage_data_stream_global_retention",
    ManageEnrich = "manage_enrich",
    ManageEsql = "manage_esql",
    ManageIlm = "manage_ilm",
    ManageIndexTemplates = "manage_index_templates",
    ManageInference = "manage_inference",
    ManageIngestPipelines = "manage_ingest_pipelines",
    ManageLogstashPipelines = "manage_logstash_pipelines",
    ManageMl = "manage_ml",
    ManageOidc = "manage_oidc",
    ManageOwnApiKey = "manage_own_api_key",
    ManagePipeline = "manage_pipeline",
    ManageProjectRouting = "manage_project_routing",
    ManageRollup = "manage_rollup",
    ManageSaml = "manage_saml",
    ManageSearchApplication = "manage_search_application",
    ManageSearchQueryRules = "manage_search_query_rules",
    ManageSearchSynonyms = "manage_search_synonyms",
    ManageSecurity = "manage_security",
    ManageServiceAccount = "manage_service_account",
    ManageSlm = "manage_slm",
    ManageToken = "manage_token",
    ManageTransform = "manage_transform",
    ManageUserProfile = "manage_user_profile",
    ManageWatcher = "manage_watcher",
    Monitor = "monitor",
    MonitorConnector = "monitor_connector",
    MonitorEnrich = "monitor_enrich",
    MonitorEsql = "monitor_esql",
    MonitorInference = "monitor_inference",
    MonitorMl = "monitor_ml",
    MonitorRollup = "monitor_rollup",
    MonitorSnapshot = "monitor_snapshot",
    MonitorStats = "monitor_stats",
    MonitorTextStructure = "monitor_text_structure",
    MonitorTransform = "monitor_transform",
    MonitorWatcher = "monitor_watcher",
    None = "none",
    ReadCcr = "read_ccr",
    ReadIlm = "read_ilm",
    ReadPipeline = "read_pipeline",
    ReadProjectRouting = "read_project_routing",
    ReadSecurity = "read_security",
    ReadSlm = "read_slm",
});

impl IndexPriv {
    /// Every privilege this one implies, itself included, as a bitmask.
    pub fn closure(self) -> u64 {
        use IndexPriv as P;
        let direct: &[IndexPriv] = match self {
            P::All => P::ALL,
            P::Write => &[P::Index, P::Create, P::CreateDoc, P::Delete],
            P::Index => &[P::Create, P::CreateDoc],
            P::Create => &[P::CreateDoc],
            P::Manage => &[
                P::Monitor,
                P::ViewIndexMetadata,
                P::Maintenance,
                P::CreateIndex,
                P::DeleteIndex,
                P::AutoConfigure,
                P::ManageIlm,
                P::ManageDataStreamLifecycle,
                P::ManageFollowIndex,
                P::ManageLeaderIndex,
                P::ManageView,
                P::CreateView,
                P::DeleteView,
                P::ReadViewMetadata,
            ],
            P::CreateIndex => &[P::AutoConfigure],
            P::ManageView => &[P::CreateView, P::DeleteView, P::ReadViewMetadata],
            P::ManageFailureStore => &[P::ReadFailureStore],
            _ => &[],
        };
        direct.iter().fold(self.bit(), |m, p| m | p.bit())
    }

    /// Whether holding `self` grants `other`.
    pub fn implies(self, other: IndexPriv) -> bool {
        self.closure() & other.bit() != 0
    }
}

impl ClusterPriv {
    const SECURITY: &'static [ClusterPriv] = &[
        ClusterPriv::ManageSecurity,
        ClusterPriv::ManageApiKey,
        ClusterPriv::ManageOwnApiKey,
        ClusterPriv::GrantApiKey,
        ClusterPriv::ReadSecurity,
        ClusterPriv::ManageServiceAccount,
        ClusterPriv::ManageToken,
        ClusterPriv::ManageUserProfile,
        ClusterPriv::ManageOidc,
        ClusterPriv::ManageSaml,
        ClusterPriv::All,
    ];

    /// Every privilege this one implies, itself included, as a bitmask.
    pub fn closure(self) -> u64 {
        use ClusterPriv as C;
        let mask = |list: &[C]| list.iter().fold(self.bit(), |m, p| m | p.closure_once());
        match self {
            C::All => C::ALL.iter().fold(0, |m, p| m | p.bit()),
            C::Manage => C::ALL
                .iter()
                .filter(|p| !Self::SECURITY.contains(p))
                .fold(0, |m, p| m | p.closure_once()),
            C::ManageSecurity => mask(&Self::SECURITY[1..10]),
            _ => self.closure_once(),
        }
    }

    /// Implications that do not go through `manage` or `all`.
    fn closure_once(self) -> u64 {
        use ClusterPriv as C;
        let direct: &[C] = match self {
            C::Monitor => &[
                C::MonitorMl,
                C::MonitorWatcher,
                C::MonitorTransform,
                C::MonitorRollup,
                C::MonitorSnapshot,
                C::MonitorTextStructure,
                C::MonitorInference,
                C::MonitorEsql,
                C::MonitorEnrich,
                C::MonitorStats,
                C::MonitorConnector,
            ],
            C::ManageApiKey => &[C::ManageOwnApiKey],
            C::ManageMl => &[C::MonitorMl],
            C::ManageWatcher => &[C::MonitorWatcher],
            C::ManageTransform => &[C::MonitorTransform],
            C::ManageRollup => &[C::MonitorRollup],
            C::ManageSlm => &[C::ReadSlm],
            C::ManageIlm => &[C::ReadIlm],
            C::ManageCcr => &[C::ReadCcr],
            C::ManagePipeline => &[C::ManageIngestPipelines, C::ReadPipeline],
            C::ManageIngestPipelines => &[C::ReadPipeline],
            C::ManageEnrich => &[C::MonitorEnrich],
            C::ManageInference => &[C::MonitorInference],
            C::ManageEsql => &[C::MonitorEsql],
            C::ManageConnector => &[C::MonitorConnector],
            C::ManageProjectRouting => &[C::ReadProjectRouting],
            C::CreateSnapshot => &[C::MonitorSnapshot],
            _ => &[],
        };
        direct.iter().fold(self.bit(), |m, p| m | p.bit())
    }

    pub fn implies(self, other: ClusterPriv) -> bool {
        self.closure() & other.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_fit_a_u64_and_round_trip() {
        assert!(IndexPriv::ALL.len() <= 64 && ClusterPriv::ALL.len() <= 64);
        for p in IndexPriv::ALL {
            assert_eq!(IndexPriv::parse(p.as_str()), Some(*p));
        }
        for p in ClusterPriv::ALL {
            assert_eq!(ClusterPriv::parse(p.as_str()), Some(*p));
        }
        assert_eq!(IndexPriv::parse("bogus"), None);
    }

    #[test]
    fn index_implications() {
        use IndexPriv as P;
        let yes = [
            (P::All, P::Delete), (P::Write, P::Index), (P::Write, P::Create), (P::Write, P::CreateDoc),
            (P::Write, P::Delete), (P::Index, P::CreateDoc), (P::Manage, P::Monitor),
            (P::Manage, P::ViewIndexMetadata), (P::Manage, P::CreateIndex), (P::Read, P::Read),
        ];
        for (a, b) in yes {
            assert!(a.implies(b), "{a} should imply {b}");
        }
        let no = [
            (P::Read, P::Write), (P::Read, P::ViewIndexMetadata), (P::Index, P::Delete),
            (P::Manage, P::Read), (P::Manage, P::Write), (P::Monitor, P::ViewIndexMetadata),
            (P::CreateDoc, P::Index), (P::Write, P::Read), (P::ViewIndexMetadata, P::Read),
        ];
        for (a, b) in no {
            assert!(!a.implies(b), "{a} must not imply {b}");
        }
    }

    #[test]
    fn cluster_implications() {
        use ClusterPriv as C;
        assert!(C::All.implies(C::ManageSecurity));
        assert!(C::Manage.implies(C::Monitor));
        assert!(C::Manage.implies(C::MonitorMl));
        assert!(C::Manage.implies(C::ManageIndexTemplates));
        assert!(!C::Manage.implies(C::ManageSecurity));
        assert!(!C::Manage.implies(C::ReadSecurity));
        assert!(!C::Manage.implies(C::ManageOwnApiKey));
        assert!(C::ManageSecurity.implies(C::ManageOwnApiKey));
        assert!(C::ManageSecurity.implies(C::ReadSecurity));
        assert!(!C::ManageSecurity.implies(C::All));
        assert!(C::Monitor.implies(C::MonitorSnapshot));
        assert!(!C::Monitor.implies(C::Manage));
        assert!(!C::MonitorMl.implies(C::ManageMl));
    }
}
