//! The run's console. Everything `flowharness test` prints, cucumber's
//! writer and the steps' own lines (seeds, services started, reports),
//! goes through the writer the caller passed to [`crate::run`]: the run
//! sends its bytes here, and the caller's thread writes them as they come.

use std::io::{self, Write};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, PoisonError};

static CONSOLE: Mutex<Option<Sender<Vec<u8>>>> = Mutex::new(None);

/// A writer onto the run's console, for cucumber's writer.
#[derive(Debug, Clone)]
pub(crate) struct Console(Sender<Vec<u8>>);

impl Write for Console {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .send(bytes.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the console was closed"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Makes `sender` the run's console until the guard drops.
pub(crate) fn install(sender: Sender<Vec<u8>>) -> Installed {
    *CONSOLE.lock().unwrap_or_else(PoisonError::into_inner) = Some(sender.clone());
    Installed(Console(sender))
}

/// The installed console; dropping it closes the console for steps.
pub(crate) struct Installed(pub(crate) Console);

impl Drop for Installed {
    fn drop(&mut self) {
        *CONSOLE.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Prints one line on the run's console (on stdout when no run is going,
/// as in the steps' unit tests).
pub fn say(line: impl std::fmt::Display) {
    send(format!("{line}\n"));
}

/// Prints text as it is on the run's console.
pub fn write(text: &str) {
    send(text.to_string());
}

fn send(text: String) {
    let console = CONSOLE.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match console {
        Some(sender) => {
            // A closed console means the run is over; the line has nowhere to go.
            let _ = sender.send(text.into_bytes());
        }
        None => print!("{text}"),
    }
}
