//! # canary-python
//!
//! The native module `canary_sdk._native` of the Python package `canary-sdk`: `canary-sdk`'s
//! [`Canary`](canary_sdk::Canary) for asyncio. This crate only converts: Python arguments into
//! core values (by serde), results into plain dicts, errors into `CanaryError` subclasses, Python
//! objects into implementations of the core's traits. Every canary decision is the core's; the
//! blocking API is Python's (`canary_sdk/_sync.py`).
//!
//! | module | owns |
//! |---|---|
//! | `runtime` | Rust futures as asyncio futures, calls back into Python, exit, `Stop` |
//! | `convert` | Python data ⇄ serde types |
//! | `error` | core errors → `CanaryError` subclasses, Python exceptions → core errors |
//! | `foreign` | Python metrics sources, hooks and callbacks behind the core's traits |
//! | `spec` | `Spec` |
//! | `canary` | `Canary`: connect and every operation |
//! | `replay` | `replay`: the engine on recorded metrics |
//! | `stream` | `Stream`: logs, build output and events as async iterators |
//! | `testing` | feature `testing` only: `MemoryWorld`, `raise_core_error`, `bench_status` |

use pyo3::prelude::*;

mod canary;
mod convert;
mod error;
mod foreign;
mod replay;
mod runtime;
mod spec;
mod stream;
#[cfg(feature = "testing")]
mod testing;

/// The native module; the package `canary_sdk` re-exports what users need.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<spec::PySpec>()?;
    m.add_class::<canary::PyCanary>()?;
    m.add_class::<stream::PyStream>()?;
    m.add_class::<runtime::Stop>()?;
    m.add_function(wrap_pyfunction!(replay::replay, m)?)?;
    let shutdown = wrap_pyfunction!(runtime::shutdown, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (shutdown,))?;
    #[cfg(feature = "testing")]
    {
        m.add_class::<testing::MemoryWorld>()?;
        m.add_function(wrap_pyfunction!(testing::raise_core_error, m)?)?;
        m.add_function(wrap_pyfunction!(testing::bench_status, m)?)?;
    }
    Ok(())
}
