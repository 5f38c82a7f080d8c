//! # canary-dashboard
//!
//! A live rollout dashboard in the browser, and the HTML report of a rollout: what
//! `canary dashboard` serves. Everything is behind [`Dashboard::builder`] (rollouts in, a
//! [`Running`] server out), so a binding starts the same server with a few lines.
//!
//! The page lists every group the dashboard was given a [`Rollout`] for and every group the
//! [`StateStore`] holds a state for. For each it shows the phase, the step and the weight as a
//! timeline, the weight over time, each check of each analysed step against its limit (canary,
//! stable and the threshold line), the split Traefik reports, the services, the drift of stable
//! from its last promotion and compose file (when given a [`DriftCheck`]) and the event log;
//! it updates without reloading (server-sent events fed by the engine's events and by reading the
//! state store about every second, so a `canary run` in another terminal shows too). With actions
//! allowed, it pauses, resumes, promotes (one step or fully) and rolls back, each behind a
//! confirmation, through [`Rollout::command_by`], the CLI's own path: the command's event names
//! `dashboard:<the browser's address>`. A group found only in the store is shown read-only from
//! its saved state (no limits, no split, no actions).
//!
//! The page is hand-written HTML, CSS and JavaScript embedded in the binary (no build step, no
//! CDN); the charts are SVG drawn by its own small script. [`Dashboard::report`] (and
//! `GET /api/groups/{group}/report`) gives one self-contained HTML file with the same charts and
//! every figure as a table, for a change ticket.
//!
//! ```no_run
//! # async fn demo(rollout: std::sync::Arc<canary_core::Rollout>,
//! #               store: std::sync::Arc<dyn canary_core::StateStore>) -> canary_core::Result<()> {
//! let running = canary_dashboard::Dashboard::builder()
//!     .rollout(rollout)                 // its spec gives the limits and the actions
//!     .store(store)                     // every other group the store knows, read-only
//!     .port(8090)                       // 127.0.0.1:8090; default 127.0.0.1 on a free port
//!     .allow_actions(true)
//!     .build()?
//!     .serve()
//!     .await?;
//! println!("{}", running.url());
//! tokio::signal::ctrl_c().await.ok();
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Safe by default
//!
//! - Bound to 127.0.0.1 unless told otherwise, and on loopback it answers only requests whose
//!   `Host` names loopback with its port (DNS rebinding).
//! - Read-only unless built with [`DashboardBuilder::allow_actions`].
//! - Actions need the header `X-Canary-Dashboard: 1` and a same-origin `Origin` (no cross-site
//!   request can act), and a bearer token when one is set; bound to anything but loopback with
//!   actions allowed, a token is required ([`DashboardBuilder::build`] refuses otherwise). The
//!   token is compared in constant time and never logged or echoed.
//! - Bounded: connections, request heads and bodies, handler time, event-stream browsers, the
//!   events kept per group; see the `server` and `hub` modules' docs.
//!
//! | module | owns |
//! |---|---|
//! | `guard` | the access rules: host, actions, CSRF, token |
//! | `view` | what is shown of a group: status, events merged over time, checks against limits |
//! | `hub` | the groups, their latest views and the browsers' event stream |
//! | `server` | connections, routing and the handlers |
//! | `report` | the self-contained HTML report |

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use canary_core::ops::DriftCheck;
use canary_core::{Error, Result, Rollout, StateStore};
use tokio::sync::{watch, Semaphore};

mod assets;
mod guard;
mod hub;
mod report;
mod server;
mod view;

pub use guard::ACTION_HEADER;
pub use server::{HANDLER_TIMEOUT, HEAD_TIMEOUT, MAX_BODY, MAX_CONNECTIONS, MAX_HEAD};

/// A dashboard, ready to serve; made by [`Dashboard::builder`].
#[derive(Debug)]
pub struct Dashboard {
    rollouts: Vec<Arc<Rollout>>,
    drift: Vec<Arc<DriftCheck>>,
    store: Option<Arc<dyn StateStore>>,
    addr: SocketAddr,
    allow_actions: bool,
    token: Option<guard::Token>,
    poll: Duration,
    max_streams: usize,
    call_timeout: Duration,
}

/// Settings of a [`Dashboard`].
#[derive(Debug)]
#[must_use]
pub struct DashboardBuilder {
    rollouts: Vec<Arc<Rollout>>,
    drift: Vec<Arc<DriftCheck>>,
    store: Option<Arc<dyn StateStore>>,
    addr: SocketAddr,
    allow_actions: bool,
    token: Option<String>,
    poll: Duration,
    max_streams: usize,
    call_timeout: Duration,
}

impl Default for DashboardBuilder {
    fn default() -> Self {
        DashboardBuilder {
            rollouts: Vec::new(),
            drift: Vec::new(),
            store: None,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_actions: false,
            token: None,
            poll: Duration::from_secs(1),
            max_streams: 32,
            call_timeout: Duration::from_secs(10),
        }
    }
}

impl DashboardBuilder {
    /// Shows `rollout`'s group with its spec's limits, and lets the actions reach it.
    pub fn rollout(mut self, rollout: Arc<Rollout>) -> Self {
        self.rollouts.push(rollout);
        self
    }

    /// [`DashboardBuilder::rollout`] for each.
    pub fn rollouts(mut self, rollouts: impl IntoIterator<Item = Arc<Rollout>>) -> Self {
        self.rollouts.extend(rollouts);
        self
    }

    /// Shows the drift of the check's group (stable against its last promotion and compose
    /// file) with its status; the group must be one given with [`DashboardBuilder::rollout`].
    pub fn drift(mut self, check: Arc<DriftCheck>) -> Self {
        self.drift.push(check);
        self
    }

    /// Also shows every group `store` holds a state for (read-only when no rollout was given
    /// for it).
    pub fn store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where to listen. Default `127.0.0.1:0` (a free port; [`Running::addr`] says which).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Listens on `127.0.0.1:port`.
    pub fn port(mut self, port: u16) -> Self {
        self.addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        self
    }

    /// Lets the page pause, resume, promote and roll back. Default false: read-only.
    pub fn allow_actions(mut self, allow: bool) -> Self {
        self.allow_actions = allow;
        self
    }

    /// The bearer token actions need (16 to 512 visible ASCII characters). Required when actions
    /// are allowed on an address other than loopback.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How often the state store is read while a browser watches (100 ms to 60 s; default 1 s).
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// How many browsers may watch at once (1 to 1024; default 32).
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = n;
        self
    }

    /// The deadline of one status read (1 s to 5 min; default 10 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Checks the settings; [`Error::InvalidInput`] names the one at fault.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use canary_core::Error;
    /// use canary_dashboard::Dashboard;
    ///
    /// assert!(Dashboard::builder().port(0).poll_interval(Duration::from_secs(2)).build().is_ok());
    /// let open = Dashboard::builder()
    ///     .addr("0.0.0.0:8090".parse().unwrap())
    ///     .allow_actions(true)
    ///     .build();
    /// assert!(matches!(open, Err(Error::InvalidInput { field, .. }) if field == "token"));
    /// ```
    pub fn build(self) -> Result<Dashboard> {
        let mut groups = BTreeMap::new();
        for r in &self.rollouts {
            if groups.insert(r.spec().group.to_string(), ()).is_some() {
                return Err(Error::invalid(
                    "rollouts",
                    format!("group {} is given twice", r.spec().group),
                ));
            }
        }
        for d in &self.drift {
            if !groups.contains_key(d.group()) {
                return Err(Error::invalid(
                    "drift",
                    format!("group {} has a drift check but no rollout", d.group()),
                ));
            }
        }
        let token = self
            .token
            .as_deref()
            .map(guard::Token::parse)
            .transpose()
            .map_err(|reason| Error::invalid("token", reason))?;
        if self.allow_actions && !self.addr.ip().is_loopback() && token.is_none() {
            return Err(Error::invalid(
                "token",
                format!(
                    "actions on {} (not a loopback address) need a token",
                    self.addr
                ),
            ));
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&self.poll) {
            return Err(Error::invalid(
                "poll_interval",
                format!("{:?} is not between 100ms and 60s", self.poll),
            ));
        }
        if !(1..=1024).contains(&self.max_streams) {
            return Err(Error::invalid(
                "max_streams",
                format!("{} is not between 1 and 1024", self.max_streams),
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&self.call_timeout) {
            return Err(Error::invalid(
                "call_timeout",
                format!("{:?} is not between 1s and 5min", self.call_timeout),
            ));
        }
        Ok(Dashboard {
            rollouts: self.rollouts,
            drift: self.drift,
            store: self.store,
            addr: self.addr,
            allow_actions: self.allow_actions,
            token,
            poll: self.poll,
            max_streams: self.max_streams,
            call_timeout: self.call_timeout,
        })
    }
}

/// A dashboard being served; stopped by [`Running::shutdown`] or when dropped.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL (`http://127.0.0.1:PORT/`; `localhost` stands in for an unspecified
    /// address).
    pub fn url(&self) -> String {
        let ip = self.addr.ip();
        if ip.is_unspecified() {
            format!("http://localhost:{}/", self.addr.port())
        } else {
            format!("http://{}/", self.addr)
        }
    }

    /// Stops serving: closes the event streams and every connection.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Dashboard {
    /// Settings, with the defaults: 127.0.0.1 on a free port, read-only.
    pub fn builder() -> DashboardBuilder {
        DashboardBuilder::default()
    }

    fn hub(&self) -> hub::Hub {
        hub::Hub::new(
            &self.rollouts,
            &self.drift,
            self.store.clone(),
            self.poll,
            self.call_timeout,
        )
    }

    /// Binds the address and serves until [`Running::shutdown`]. Must be called within a Tokio
    /// runtime; [`Error::Unavailable`] when the address cannot be bound.
    pub async fn serve(self) -> Result<Running> {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|e| {
                Error::unavailable(format!("cannot listen on {}: {e}", self.addr)).with_source(e)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("no local address: {e}")).with_source(e))?;
        let (stop, stopped) = watch::channel(false);
        let hub = Arc::new(self.hub());
        let app = Arc::new(server::App {
            hub: hub.clone(),
            access: guard::Access {
                bound: addr,
                allow_actions: self.allow_actions,
                token: self.token.clone(),
            },
            rollouts: self
                .rollouts
                .iter()
                .map(|r| (r.spec().group.to_string(), r.clone()))
                .collect(),
            streams: Arc::new(Semaphore::new(self.max_streams)),
            shutdown: stopped.clone(),
            busy: Default::default(),
        });
        let mut tasks = vec![tokio::spawn(hub.clone().run(stopped.clone()))];
        for r in &self.rollouts {
            tasks.push(tokio::spawn(
                hub.clone().forward(r.clone(), stopped.clone()),
            ));
        }
        let task = tokio::spawn(async move {
            server::serve(listener, app, stopped).await;
            for t in tasks {
                let _ = t.await;
            }
        });
        tracing::info!(%addr, actions = self.allow_actions, "dashboard serving");
        Ok(Running {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The self-contained HTML report of `group` as it is now (its saved state and events),
    /// without serving anything. [`Error::NotFound`] when the dashboard does not know the group
    /// (it was given no rollout of it and the store holds no state of it).
    pub async fn report(&self, group: &str) -> Result<String> {
        let hub = self.hub();
        if !hub.knows(group) {
            hub.discover().await;
        }
        let cached = hub
            .refresh(group)
            .await
            .ok_or_else(|| Error::not_found("group", group))?;
        if let Some(e) = &cached.view.error {
            if cached.view.status.is_none() {
                return Err(Error::unavailable(format!(
                    "cannot read the state of {group}: {e}"
                )));
            }
        }
        Ok(report::render(&cached.view))
    }
}
