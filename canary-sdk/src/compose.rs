//! The compose file as the source of truth, for a group whose spec came from one (`x-canary` in a
//! `docker stack deploy` file): each promotion written back into it, and the drift between what
//! stable runs, the last promotion and the file. The decisions are `canary_core::ops`'
//! ([`write_back`](canary_core::ops::write_back), [`drift`](canary_core::ops::drift)); this
//! module only knows where the file is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use canary_core::ops::{self, DriftCheck, WriteBack, WriteBackOptions};
use canary_core::{Error, Result, SpecFile};

use crate::session::Canary;

impl Canary {
    /// The group as read from `file`: its directory for build contexts and, when it is a compose
    /// file, the file for write-back and drift.
    #[must_use]
    pub fn with_source(self, file: &SpecFile) -> Self {
        let this = self.with_spec_dir(&file.dir);
        if file.compose {
            this.with_compose_file(&file.path)
        } else {
            this
        }
    }

    /// Writes promotions back into (and compares stable with) compose file `path`.
    #[must_use]
    pub fn with_compose_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.compose = Some(path.into());
        self
    }

    /// The compose file the spec came from, if it did.
    pub fn compose_file(&self) -> Option<&Path> {
        self.compose.as_deref()
    }

    /// The drift check of the group: against the last promotion, and against the compose file
    /// when there is one. [`Canary::status`] runs it.
    pub fn drift_check(&self) -> DriftCheck {
        let check = DriftCheck::new(self.spec().clone(), Arc::clone(&self.deps().orchestrator));
        match &self.compose {
            Some(p) => check.compose_file(p),
            None => check,
        }
    }

    /// Writes the saved promotion into the compose file (or, with `options.dry_run`, only says
    /// how: the patch). An error when the spec did not come from a compose file.
    pub async fn write_back(&self, options: &WriteBackOptions) -> Result<WriteBack> {
        let Some(path) = &self.compose else {
            return Err(Error::invalid(
                "",
                "the spec did not come from a compose file: there is no file to write the promotion to",
            ));
        };
        ops::write_back(self.spec(), self.deps(), path, options).await
    }
}
