//! Failure kinds that decide the process exit code; see `ExitCode` in `main.rs`.

/// The input (an incident file, a mapping, the config, an argument) is wrong. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// At least one alert could not be delivered; it stays pending for the next run. Exit 3.
#[derive(Debug, thiserror::Error)]
#[error("{failed} alert(s) could not be delivered and stay pending: {first_error}")]
pub struct DeliveryFailed {
    pub failed: usize,
    pub first_error: String,
}

/// Another run holds the alert lock. Exit 4.
#[derive(Debug, thiserror::Error)]
#[error("another regwatch alerts run holds the lock {0}; nothing was sent by this run")]
pub struct Busy(pub String);

/// Shorthand for a `BadInput` error.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}
