//! The CLI's one error: a line for people, a machine code, an exit code.

use std::fmt;

/// What went wrong, printed as one line on stderr (and as a JSON object with `--output json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    /// One line, for people.
    pub(crate) message: String,
    /// A stable code: the core's (`CANARY_CONFLICT`, ...) or `CANARY_INVALID_INPUT`.
    pub(crate) code: &'static str,
    /// The process exit code.
    pub(crate) exit: u8,
}

/// Exit code of a successful command (and of a promoted rollout).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code of an error.
pub(crate) const EXIT_ERROR: u8 = 1;
/// Exit code of a rollout rolled back or aborted (by analysis, a hook or a person).
pub(crate) const EXIT_ROLLED_BACK: u8 = 2;

impl CliError {
    /// Wrong input: a flag, the spec file.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: "CANARY_INVALID_INPUT",
            exit: EXIT_ERROR,
        }
    }

    /// A failure with a code of its own.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code,
            exit: EXIT_ERROR,
        }
    }

    /// The same error with some context in front.
    pub(crate) fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<canary_core::Error> for CliError {
    fn from(e: canary_core::Error) -> Self {
        let exit = match e {
            canary_core::Error::Aborted(_) => EXIT_ROLLED_BACK,
            _ => EXIT_ERROR,
        };
        CliError {
            message: e.to_string(),
            code: e.code(),
            exit,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Shorthand.
pub(crate) type CliResult<T> = Result<T, CliError>;
