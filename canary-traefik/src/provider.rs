//! The two Traefik facts every name and rule depends on: which major version reads them (a few
//! spellings differ) and which provider holds the router's objects (their `@file` / `@etcd`
//! suffix). Plain values, imported by everything else in the crate and by nothing it imports.

/// The Traefik major version, which decides a few spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ProviderVersion {
    /// Traefik v3: provider `swarm`, matcher `Header`, label `traefik.swarm.network`.
    #[default]
    V3,
    /// Traefik v2: provider `docker` (in swarm mode), matcher `Headers`, label
    /// `traefik.docker.network`.
    V2,
}

impl ProviderVersion {
    /// The provider name Swarm services appear under: `swarm` (v3) or `docker` (v2).
    pub fn provider(self) -> &'static str {
        match self {
            ProviderVersion::V3 => "swarm",
            ProviderVersion::V2 => "docker",
        }
    }

    /// The rule matcher for one header value: `Header` (v3) or `Headers` (v2).
    pub fn header_matcher(self) -> &'static str {
        match self {
            ProviderVersion::V3 => "Header",
            ProviderVersion::V2 => "Headers",
        }
    }

    /// The matcher of a header by regex.
    pub fn header_regexp_matcher(self) -> &'static str {
        match self {
            ProviderVersion::V3 => "HeaderRegexp",
            ProviderVersion::V2 => "HeadersRegexp",
        }
    }

    /// The label that tells Traefik which network reaches the tasks.
    pub fn network_label(self) -> &'static str {
        match self {
            ProviderVersion::V3 => "traefik.swarm.network",
            ProviderVersion::V2 => "traefik.docker.network",
        }
    }

    /// `<name>@<provider>`.
    pub fn qualify(self, name: &str) -> String {
        format!("{name}@{}", self.provider())
    }
}

/// The Traefik provider that holds the router's objects (the group config), which names them
/// `<name>@file` or `<name>@etcd` in Traefik's API and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RouteProvider {
    /// Traefik's file provider (one file per group in a watched directory): one Traefik, or
    /// several sharing the directory.
    #[default]
    File,
    /// Traefik's etcd (v3) provider: every Traefik replica watches the same keys.
    Etcd,
}

impl RouteProvider {
    /// The provider's name in Traefik: `file` or `etcd`.
    pub fn name(self) -> &'static str {
        match self {
            RouteProvider::File => "file",
            RouteProvider::Etcd => "etcd",
        }
    }
}
