//! `replay`: [`canary_sdk::replay()`] (the engine run again on a recording or a Prometheus span,
//! on a paused clock) as an awaitable; the report as a dict (`ReplayReport` in `types.pyi`).

use pyo3::prelude::*;

use crate::convert::{from_py, to_py};
use crate::error::ToPyResult;
use crate::runtime::awaitable;
use crate::spec::{overrides, PySpec};

/// Replays `options` (`{"recording": path}` or `{"prometheus": {"url", "from", "to"}}`) with
/// `spec` (default: the recording's own) and `overrides` on top (a what-if, as `Spec.load`
/// takes them).
#[pyfunction]
#[pyo3(signature = (options, overrides = None, spec = None))]
pub(crate) fn replay<'py>(
    py: Python<'py>,
    options: &Bound<'py, PyAny>,
    overrides: Option<&Bound<'py, PyAny>>,
    spec: Option<PyRef<'py, PySpec>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut options: canary_sdk::ReplayOptions = from_py("options", options)?;
    options.overrides.extend(self::overrides(overrides)?);
    let spec = spec.map(|s| s.spec.clone());
    awaitable(py, async move {
        to_py(&canary_sdk::replay(spec, options).await.to_py()?)
    })
}
