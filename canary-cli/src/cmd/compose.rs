//! The compose file a spec came from, for the commands that promote: the promotion written back
//! into it (or its patch, with `--no-write`) and the drift of stable printed.

use canary_core::ops::WriteBackOptions;
use canary_sdk::Canary;

use crate::error::{CliError, CliResult};
use crate::exporter::Exporter;
use crate::output::{human_drift, human_write_back, tagged, Printer};

/// Writes the promotion into the compose file the spec came from (with `--no-write`, prints the
/// patch); nothing for a plain spec.
pub(crate) async fn write_back(canary: &Canary, no_write: bool, p: &Printer) -> CliResult<()> {
    let Some(file) = canary.compose_file() else {
        return Ok(());
    };
    let options = WriteBackOptions::default().dry_run(no_write);
    match canary.write_back(&options).await {
        Ok(w) => {
            p.emit(tagged("writeBack", &w), || human_write_back(&w));
            Ok(())
        }
        Err(e) => Err(CliError::from(e).context(format!(
            "promoted, but {} does not name the promoted image: the next `docker stack deploy` \
             of it puts stable back",
            file.display()
        ))),
    }
}

/// Prints the drift of stable (one `drift` object per app in JSON) and sets the exporter's
/// gauges. A drift that cannot be read is a note, not a failure of the rollout.
pub(crate) async fn report_drift(canary: &Canary, p: &Printer, exporter: Option<&Exporter>) {
    match canary.status().await {
        Ok(st) => {
            if let Some(x) = exporter {
                x.set_drift(&st.drift);
            }
            for d in &st.drift {
                p.emit(tagged("drift", d), || human_drift(std::slice::from_ref(d)));
            }
        }
        Err(e) => p.note(format!("(drift not checked: {e})")),
    }
}
